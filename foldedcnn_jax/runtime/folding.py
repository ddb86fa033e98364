"""Pure fold/unfold of images and logits (no model code), and the one zero-padding helper.

Group g of a folded batch holds images g·f … g·f+f−1, stacked along channels in that order;
its logits[j·K:(j+1)·K] belong to image g·f+j. A ragged batch is zero-padded to a multiple
of f and the padding's predictions are dropped by `unfold`. Which images share a folded input
is `runtime/grouping.py`'s.
"""

from __future__ import annotations

import numpy as np

from foldedcnn_jax.errors import UserInputError, check_fold_factor


def padded_size(num_images: int, fold: int) -> int:
  """The smallest multiple of `fold` that holds `num_images`."""
  check_fold_factor(fold)
  return -(-num_images // fold) * fold


def pad_to(array, size: int, axis: int = 0):
  """`array` zero-padded at the end of `axis` to `size` entries (a ragged batch to a compiled
  batch size, channels to a multiple); numpy stays numpy, a jax array stays a jax array."""
  extra = size - array.shape[axis]
  if extra < 0:
    raise ValueError(f"cannot pad axis {axis} of {tuple(array.shape)} to {size}")
  if not extra:
    return array
  widths = [(0, 0)] * array.ndim
  widths[axis] = (0, extra)
  return (np if isinstance(array, np.ndarray) else _jnp()).pad(array, widths)


def fold(images, fold: int):
  """(N, H, W, C) → (ceil(N/f), H, W, f·C); works on numpy and jax arrays alike."""
  check_fold_factor(fold)
  if images.ndim != 4:
    raise UserInputError(f"images must be (N, H, W, C), got shape {tuple(images.shape)}")
  num, height, width, channels = images.shape
  images = pad_to(images, padded_size(num, fold))
  grouped = images.reshape(-1, fold, height, width, channels)
  return grouped.transpose(0, 2, 3, 1, 4).reshape(-1, height, width, fold * channels)


def fold_into(images: np.ndarray, fold: int, out: np.ndarray) -> int:
  """`fold(images)` written into the leading rows of the numpy array `out` in one strided copy
  (no padded or transposed temporaries: the video filter's host-side fold). Rows of `out` that
  a ragged tail leaves unfilled must already be zero. Returns the folded inputs written."""
  num, height, width, channels = images.shape
  full, rest = divmod(num, fold)
  if out.shape[1:] != (height, width, fold * channels) or len(out) < full + bool(rest):
    raise UserInputError(f"cannot fold {images.shape} at f={fold} into {out.shape}")
  target = out[:full].reshape(full, height, width, fold, channels)
  target[...] = images[:full * fold].reshape(full, fold, height, width, channels).transpose(
      0, 2, 3, 1, 4)
  if rest:
    out[full].reshape(height, width, fold, channels)[:, :, :rest] = images[full * fold:].transpose(
        1, 2, 0, 3)
  return full + bool(rest)


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
