"""Pure fold/unfold of images and logits (no model code).

Group g of a folded batch holds images g·f … g·f+f−1, stacked along channels in that order;
its logits[j·K:(j+1)·K] belong to image g·f+j. A ragged batch is zero-padded to a multiple
of f and the padding's predictions are dropped by `unfold`.
"""

from __future__ import annotations

import numpy as np

from foldedcnn_jax.errors import UserInputError, check_fold_factor

# Which images share a folded input when a sequence is grouped (see `group_order`): a fixed
# permutation (the authors' evaluation protocol), record order ("consecutive": what a stream
# deployment folds), or "strided": group g holds images g, g + n/f, g + 2n/f, ... (image t of
# each of f equal segments).
GROUPINGS = ("permuted", "consecutive", "strided")
PERMUTATION_SEED = 19  # the authors' evaluation permutation


def fixed_permutation(size: int, seed: int = PERMUTATION_SEED) -> np.ndarray:
  """A fixed order of a whole split (the authors permute eval splits with seed 19 before
  folding, so a folded group does not hold consecutive, near-identical frames)."""
  return np.random.default_rng(seed).permutation(size)


def group_order(size: int, *, grouping: str, fold: int,
                seed: int = PERMUTATION_SEED) -> np.ndarray:
  """The order to fold `size` images in under `grouping`: consecutive f entries of the result
  form one folded input. A strided ragged tail (size not a multiple of f) comes last, in order."""
  if grouping not in GROUPINGS:
    raise UserInputError(f"unknown grouping {grouping!r}; use one of {', '.join(GROUPINGS)}")
  if grouping == "permuted":
    return fixed_permutation(size, seed)
  if grouping == "consecutive" or fold == 1:
    return np.arange(size)
  per_segment = size // fold
  strided = np.arange(per_segment * fold).reshape(fold, per_segment).T.ravel()
  return np.concatenate([strided, np.arange(per_segment * fold, size)])


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
