"""The cascade's reference model: ResNet-50-sized, and timed on the device."""

import jax
import numpy as np
import pytest
from flax import nnx

from foldedcnn_jax import reference_model


def test_default_network_is_resnet50_sized():
  model = reference_model.ResNet(rngs=nnx.Rngs(0))
  params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
  assert params == pytest.approx(25.56e6, rel=2e-3)  # ResNet-50: 25.56M parameters
  assert len(model.blocks) == sum(reference_model.RESNET50_STAGES) == 16
  logits = model(np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), np.uint8))
  assert logits.shape == (2, 1000) and np.isfinite(np.asarray(logits)).all()


def test_images_per_second_times_a_small_variant():
  rate = reference_model.images_per_second(image_size=32, batch_images=2, stages=(1, 1),
                                           width=8, trials=1)
  assert rate > 0 and np.isfinite(rate)
