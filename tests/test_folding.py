import jax.numpy as jnp
import numpy as np
import pytest

from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.runtime import folding


def images(n, h=3, w=4, c=2):
  return np.arange(n * h * w * c, dtype=np.float32).reshape(n, h, w, c)


@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_shapes(fold):
  assert folding.fold(images(12), fold).shape == (12 // fold, 3, 4, 2 * fold)


def test_f1_is_identity():
  x = images(5)
  np.testing.assert_array_equal(folding.fold(x, 1), x)
  logits = np.arange(10.0).reshape(5, 2)
  np.testing.assert_array_equal(folding.unfold(logits, 1), logits)


def test_image_j_sits_in_channel_slot_j():
  x = images(8)
  folded = folding.fold(x, 4)
  for group in range(2):
    for slot in range(4):
      channels = folded[group, ..., slot * 2:(slot + 1) * 2]
      np.testing.assert_array_equal(channels, x[group * 4 + slot])


def test_logit_slot_j_belongs_to_image_j():
  fold, classes = 3, 5
  logits = np.arange(2 * fold * classes).reshape(2, fold * classes)
  per_image = folding.unfold(logits, fold)
  for image in range(2 * fold):
    group, slot = divmod(image, fold)
    expected = logits[group, slot * classes:(slot + 1) * classes]
    np.testing.assert_array_equal(per_image[image], expected)


def test_round_trip_through_a_channelwise_map():
  # A "model" that reads image j's slot and writes image j's logits must give per-image results.
  x, fold = images(9), 3
  folded = folding.fold(x, fold)
  per_slot_sums = folded.reshape(3, -1, fold, 2).sum(axis=1)  # (groups, f, C)
  np.testing.assert_array_equal(folding.unfold(per_slot_sums.reshape(3, -1), fold),
                                x.reshape(9, -1, 2).sum(axis=1))


def test_ragged_batch_is_padded_and_padding_dropped():
  x = images(5)
  folded = folding.fold(x, 4)
  assert folded.shape[0] == 2
  np.testing.assert_array_equal(folded[1, ..., 2:], 0)  # images 5..7 are zero padding
  logits = np.arange(2 * 4 * 3).reshape(2, 12)
  assert folding.unfold(logits, 4, num_images=5).shape == (5, 3)
  assert folding.padded_size(5, 4) == 8


def test_works_on_jax_arrays():
  x = jnp.asarray(images(5))
  np.testing.assert_array_equal(folding.fold(x, 2), folding.fold(np.asarray(x), 2))


@pytest.mark.parametrize("fold", [0, -2, 2.0])
def test_bad_fold(fold):
  with pytest.raises(ValueError, match="fold factor must be an integer >= 1"):
    folding.fold(images(4), fold)


def test_bad_shapes():
  with pytest.raises(ValueError, match=r"images must be \(N, H, W, C\)"):
    folding.fold(np.zeros((4, 3, 3)), 2)
  with pytest.raises(ValueError, match="f=2"):
    folding.unfold(np.zeros((4, 3)), 2)


@pytest.mark.parametrize("fold, num", [(1, 5), (2, 6), (3, 7), (4, 2)])
def test_fold_into_writes_what_fold_returns(fold, num):
  images = np.random.default_rng(num).integers(0, 255, (num, 5, 6, 3), dtype=np.uint8)
  expected = folding.fold(images, fold)
  out = np.zeros((len(expected) + 2, 5, 6, 3 * fold), np.uint8)
  assert folding.fold_into(images, fold, out) == len(expected)
  np.testing.assert_array_equal(out[:len(expected)], expected)
  assert not out[len(expected):].any()
  with pytest.raises(UserInputError, match="cannot fold"):
    folding.fold_into(images, fold, out[:len(expected) - 1])


def test_pad_to_zero_pads_numpy_and_jax_arrays_along_one_axis():
  x = np.ones((3, 2), np.uint8)
  padded = folding.pad_to(x, 5)
  assert isinstance(padded, np.ndarray) and padded.shape == (5, 2) and padded[3:].sum() == 0
  assert folding.pad_to(x, 3) is x
  np.testing.assert_array_equal(folding.pad_to(jnp.asarray(x), 4, axis=1),
                                np.pad(x, ((0, 0), (0, 2))))
  with pytest.raises(ValueError, match="cannot pad"):
    folding.pad_to(x, 2)
