"""Scene objects: sprite shapes, aspects and masks per kind; foreground occluders."""

import numpy as np
import pytest

from foldedcnn_jax.data import scene_objects


@pytest.mark.parametrize("kind", ["person", "car", "bus"])
def test_sprites_have_the_kind_s_aspect_and_a_mask(kind):
  for seed in range(5):
    poses = scene_objects.make_sprites(kind, np.random.default_rng(seed))
    assert poses
    low, high = scene_objects.ASPECTS[kind]
    for image, mask in poses:
      assert image.dtype == np.uint8 and image.shape == (*mask.shape, 3)
      height, width = mask.shape
      assert height == scene_objects.SPRITE_HEIGHT
      assert max(6, int(height * low)) <= width <= int(height * high) + 1
      assert 0.2 < mask.astype(bool).mean() < 1.0  # an outline, not a filled box or nothing
  again = scene_objects.make_sprites(kind, np.random.default_rng(3))
  first = scene_objects.make_sprites(kind, np.random.default_rng(3))
  assert all(np.array_equal(a[0], b[0]) for a, b in zip(again, first, strict=True))
  other = scene_objects.make_sprites(kind, np.random.default_rng(4))
  assert not np.array_equal(other[0][0], first[0][0]) or other[0][0].shape != first[0][0].shape


@pytest.mark.parametrize("scene", ["night", "coral"])
def test_foreground_occludes_part_of_the_frame(scene):
  image, mask = scene_objects.foreground(scene, 120, 160, np.random.default_rng(1))
  assert image.shape == (120, 160, 3) and mask.shape == (120, 160) and mask.dtype == bool
  assert 0 < mask.mean() < 0.5
  assert (image[~mask] == 0).all() and image[mask].any()
