"""Pure fold/unfold of images and logits (no model code).

Group g of a folded batch holds images g·f … g·f+f−1, stacked along channels in that order;
its logits[j·K:(j+1)·K] belong to image g·f+j. A ragged batch is zero-padded to a multiple
of f and the padding's predictions are dropped by `unfold`.
"""

from __future__ import annotations

import numpy as np

from foldedcnn_jax.errors import UserInputError, check_fold_factor


def padded_size(num_images: int, fold: int) -> int:
  """The smallest multiple of `fold` that holds `num_images`."""
  check_fold_factor(fold)
  return -(-num_images // fold) * fold


def fold(images, fold: int):
  """(N, H, W, C) → (ceil(N/f), H, W, f·C); works on numpy and jax arrays alike."""
  check_fold_factor(fold)
  if images.ndim != 4:
    raise UserInputError(f"images must be (N, H, W, C), got shape {tuple(images.shape)}")
  num, height, width, channels = images.shape
  padding = padded_size(num, fold) - num
  if padding:
    pad = np.zeros((padding, height, width, channels), dtype=images.dtype)
    xp = np if isinstance(images, np.ndarray) else _jnp()
    images = xp.concatenate([images, xp.asarray(pad)], axis=0)
  grouped = images.reshape(-1, fold, height, width, channels)
  return grouped.transpose(0, 2, 3, 1, 4).reshape(-1, height, width, fold * channels)


def unfold(logits, fold: int, num_images: int | None = None):
  """(N/f, f·K) → (N, K), dropping padded images beyond `num_images`."""
  check_fold_factor(fold)
  if logits.ndim != 2 or logits.shape[1] % fold:
    raise UserInputError(
        f"logits must be (N/f, f*K) with f={fold}, got shape {tuple(logits.shape)}")
  per_image = logits.reshape(logits.shape[0] * fold, logits.shape[1] // fold)
  return per_image if num_images is None else per_image[:num_images]


def _jnp():
  import jax.numpy as jnp  # jax arrays only reach here when jax is already imported

  return jnp
