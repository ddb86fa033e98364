"""The `tiny` test task: 8×8 images whose class is a colour and stripe orientation, plus noise.

Trivially learnable on purpose (training tests use it) and instant to generate.
"""

from __future__ import annotations

import numpy as np

from foldedcnn_jax.tasks import Task

# One (colour, pattern) per class; patterns are functions of the pixel grid and a phase.
_COLOURS = np.array([[220, 40, 40], [40, 200, 60], [50, 80, 230], [230, 210, 40]], np.float32)
_PATTERNS = (
    lambda rows, cols, phase: (rows + phase) % 4 < 2,  # horizontal stripes
    lambda rows, cols, phase: (cols + phase) % 4 < 2,  # vertical stripes
    lambda rows, cols, phase: (rows + cols + phase) % 4 < 2,  # diagonal stripes
    lambda rows, cols, phase: ((rows // 2 + cols // 2 + phase) % 2) == 0,  # checkerboard
)


def render_image(task: Task, class_index: int, rng: np.random.Generator) -> np.ndarray:
  """One (H, W, 3) uint8 image of class `class_index`."""
  height, width = task.input_hw
  rows, cols = np.mgrid[0:height, 0:width]
  pattern = _PATTERNS[class_index % len(_PATTERNS)](rows, cols, int(rng.integers(0, 4)))
  colour = _COLOURS[class_index % len(_COLOURS)] * rng.uniform(0.8, 1.0)
  background = rng.uniform(0, 60, size=3).astype(np.float32)
  image = np.where(pattern[..., None], colour, background)
  image = image + rng.normal(0, 12, size=image.shape)
  return np.clip(image, 0, 255).astype(np.uint8)
