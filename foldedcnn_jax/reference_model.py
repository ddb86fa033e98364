"""The cascade's reference model when no cost is given: a ResNet-50-sized Flax NNX network with
random weights, timed on the same device as the filter (only its cost matters, not its answers).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from foldedcnn_jax.bench import timing

RESNET50_STAGES = (3, 4, 6, 3)  # bottleneck blocks per stage


class Bottleneck(nnx.Module):
  """1×1 → 3×3 (stride) → 1×1 ×4 convolutions with batch norm and a projected shortcut."""

  def __init__(self, in_channels: int, width: int, stride: int, *, rngs: nnx.Rngs):
    out_channels = 4 * width
    self.convs = nnx.List([
        nnx.Conv(in_channels, width, (1, 1), use_bias=False, rngs=rngs),
        nnx.Conv(width, width, (3, 3), strides=stride, use_bias=False, rngs=rngs),
        nnx.Conv(width, out_channels, (1, 1), use_bias=False, rngs=rngs)])
    self.norms = nnx.List([nnx.BatchNorm(c, use_running_average=True, rngs=rngs)
                           for c in (width, width, out_channels)])
    shortcut = None
    if stride != 1 or in_channels != out_channels:
      shortcut = nnx.Conv(in_channels, out_channels, (1, 1), strides=stride, use_bias=False,
                          rngs=rngs)
    self.shortcut = nnx.data(shortcut)

  def __call__(self, x):
    residual = x if self.shortcut is None else self.shortcut(x)
    for index, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
      x = norm(conv(x))
      x = nnx.relu(x) if index < 2 else x
    return nnx.relu(x + residual)


class ResNet(nnx.Module):
  """ResNet-v1 with bottleneck blocks; the defaults are ResNet-50 (1000 classes)."""

  def __init__(self, stages=RESNET50_STAGES, width: int = 64, num_classes: int = 1000, *,
               rngs: nnx.Rngs):
    self.stem = nnx.Conv(3, width, (7, 7), strides=2, use_bias=False, rngs=rngs)
    blocks, channels = [], width
    for stage, count in enumerate(stages):
      for index in range(count):
        stride = 2 if stage > 0 and index == 0 else 1
        blocks.append(Bottleneck(channels, width * 2**stage, stride, rngs=rngs))
        channels = 4 * width * 2**stage
    self.blocks = nnx.List(blocks)
    self.head = nnx.Linear(channels, num_classes, rngs=rngs)

  def __call__(self, images):
    x = nnx.relu(self.stem(images.astype(jnp.float32) / 255.0))
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
    for block in self.blocks:
      x = block(x)
    return self.head(x.mean(axis=(1, 2)))


def images_per_second(*, image_size: int = 224, batch_images: int = 16,
                      stages=RESNET50_STAGES, width: int = 64, trials: int = 3) -> float:
  """Inference images/s of the reference network on the default device (uint8 inputs)."""
  graphdef, params = nnx.split(ResNet(stages, width, rngs=nnx.Rngs(0)))
  forward = jax.jit(functools.partial(lambda graphdef, params, x: nnx.merge(graphdef, params)(x),
                                      graphdef))
  images = jax.device_put(np.random.default_rng(0).integers(
      0, 256, (batch_images, image_size, image_size, 3), dtype=np.uint8))
  measured = timing.time_calls(lambda: jax.block_until_ready(forward(params, images)),
                               trials=trials, warmup_calls=1, min_trial_seconds=0.0)
  return batch_images / measured.median_seconds
