"""Which images share a folded input: one home for evaluation, prediction and streams.

A grouping is an order of the images; consecutive f entries of it form one folded input
(`folding.fold`). Evaluation and the predictor order a split or a batch with `group_order`;
the video filter orders the frames of clips it decodes in parallel with `lanes` and `slots`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.runtime import folding

# Which images share a folded input when evaluation or the predictor folds a fixed sequence
# (`group_order`; training draws its groups per epoch, `training_order`): a fixed
# permutation (the authors' evaluation protocol), record order ("consecutive": what a stream
# deployment folds), or "strided": group g holds images g, g + n/f, g + 2n/f, ... (image t of
# each of f equal segments).
EVAL_GROUPINGS = ("permuted", "consecutive", "strided")
PERMUTATION_SEED = 19  # the authors' evaluation permutation
# How frames of several clips are grouped (`lanes`): "interleaved" folds frames of f different
# clips; "auto" is strided for one clip, interleaved for several.
STREAM_GROUPINGS = ("auto", "consecutive", "strided", "interleaved")


def training_order(indices: np.ndarray, rng: np.random.Generator, fold: int, grouping: str,
                   consecutive_share: float) -> np.ndarray:
  """An epoch's training records in order, in aligned groups of f as `grouping`
  (data.common.TRAIN_GROUPINGS) forms them: a permutation ("independent"), shuffled groups of f
  consecutive records cut at a drawn offset ("consecutive"), or each such group kept with
  probability `consecutive_share` and the rest regrouped independently ("mix")."""
  if fold == 1 or grouping == "independent":
    return rng.permutation(indices)
  offset = int(rng.integers(fold))
  count = (len(indices) - offset) // fold
  blocks = indices[offset:offset + count * fold].reshape(count, fold)
  leftover = np.concatenate([indices[:offset], indices[offset + count * fold:]])
  if grouping == "mix":
    independent = rng.random(count) >= consecutive_share
    pool = rng.permutation(np.concatenate([blocks[independent].ravel(), leftover]))
    groups = len(pool) // fold
    blocks = np.concatenate([blocks[~independent], pool[:groups * fold].reshape(groups, fold)])
    leftover = pool[groups * fold:]
  return np.concatenate([blocks[rng.permutation(len(blocks))].ravel(), rng.permutation(leftover)])


def repeat_batches(order: np.ndarray, batch_size: int, repetitions: int,
                   rng: np.random.Generator) -> np.ndarray:
  """MIMO batch repetition: each whole batch of `batch_size` records of `order` followed by
  `repetitions` − 1 permutations of itself; a last partial batch is kept as it is."""
  count = len(order) // batch_size
  batches = order[:count * batch_size].reshape(count, batch_size)
  copies = [batches] + [rng.permuted(batches, axis=1) for _ in range(repetitions - 1)]
  return np.concatenate([np.stack(copies, axis=1).reshape(-1), order[count * batch_size:]])


def repeat_inputs(order: np.ndarray, fold: int, probability: float,
                  rng: np.random.Generator) -> None:
  """MIMO input repetition, in place: each aligned group of f in `order` holds its first record
  f times with `probability`."""
  groups = order[:len(order) // fold * fold].reshape(-1, fold)  # a view into `order`
  repeated = rng.random(len(groups)) < probability
  groups[repeated] = groups[repeated, :1]


def fixed_permutation(size: int, seed: int = PERMUTATION_SEED) -> np.ndarray:
  """A fixed order of a whole split (the authors permute eval splits with seed 19 before
  folding, so a folded group does not hold consecutive, near-identical frames)."""
  return np.random.default_rng(seed).permutation(size)


def group_order(size: int, *, grouping: str, fold: int,
                seed: int = PERMUTATION_SEED) -> np.ndarray:
  """The order to fold `size` images in under `grouping`: consecutive f entries of the result
  form one folded input. A strided ragged tail (size not a multiple of f) comes last, in order."""
  if grouping not in EVAL_GROUPINGS:
    raise UserInputError(f"unknown grouping {grouping!r}; use one of {', '.join(EVAL_GROUPINGS)}")
  if grouping == "permuted":
    return fixed_permutation(size, seed)
  if grouping == "consecutive" or fold == 1:
    return np.arange(size)
  per_segment = size // fold
  strided = np.arange(per_segment * fold).reshape(fold, per_segment).T.ravel()
  return np.concatenate([strided, np.arange(per_segment * fold, size)])


class Positions:
  """Numbers the frames of several clips of these lengths, one clip after another, as
  positions 0..N-1."""

  def __init__(self, lengths: Sequence[int]):
    self.lengths = [int(length) for length in lengths]
    self.offsets = np.cumsum([0, *self.lengths]).tolist()

  def __len__(self) -> int:
    return self.offsets[-1]

  def clip_of(self, position: int) -> int:
    return bisect.bisect_right(self.offsets, position) - 1

  def split(self, span: range) -> list[range]:
    """`span` of positions cut where one clip ends and the next begins."""
    pieces, start = [], span.start
    while start < span.stop:
      stop = min(span.stop, self.offsets[self.clip_of(start) + 1])
      pieces.append(range(start, stop))
      start = stop
    return pieces

  def clip_index(self) -> np.ndarray:
    """(N,) the clip of each position."""
    return np.repeat(np.arange(len(self.lengths)), self.lengths)


def _equal_parts(span: range, parts: int) -> list[range]:
  """`span` cut into `parts` contiguous ranges of ceil(len/parts) (the last shorter or empty)."""
  length = -(-len(span) // parts)
  return [span[j * length:(j + 1) * length] for j in range(parts)]


def lanes(lengths: Sequence[int], fold: int, grouping: str, *, batch_images: int,
          workers: int) -> list[list[range]]:
  """The position ranges each decoding lane decodes, for clips of these lengths grouped as
  `grouping` ("consecutive", "strided" or "interleaved").

  Consecutive: batches of `batch_images` (a clip starts a new batch), the batches split evenly
  between `workers` lanes. Strided and interleaved: exactly f lanes, lane j filling slot j of
  every folded input — strided: f equal segments of all positions; interleaved: clip j, j+f, …
  (with fewer clips than f, each clip cut into equal segments, f in all).
  """
  positions = Positions(lengths)
  spans = [range(positions.offsets[i], positions.offsets[i + 1]) for i in range(len(lengths))]
  if grouping == "consecutive":
    batches = [span[start:start + batch_images] for span in spans
               for start in range(0, len(span), batch_images)]
    workers = max(1, min(workers, len(batches)))
    per_worker = max(1, -(-len(batches) // workers))
    return [batches[i:i + per_worker] for i in range(0, len(batches), per_worker)]
  if grouping == "strided":
    return [positions.split(part) for part in _equal_parts(range(len(positions)), fold)]
  if len(spans) >= fold:
    return [[span for span in spans[j::fold] if len(span)] for j in range(fold)]
  segments = [part for i, span in enumerate(spans)
              for part in _equal_parts(span, fold // len(spans) + (i < fold % len(spans)))]
  return [[part] if len(part) else [] for part in segments]


def slots(plan: list[list[range]], fold: int, grouping: str) -> np.ndarray:
  """The position in each image slot of the lanes `plan`, in folding order (-1: zero padding):
  folded input g holds slots g·f … g·f+f−1."""
  if grouping == "consecutive":  # each batch folded on its own
    padded = []
    for batch in (span for lane in plan for span in lane):
      padded += [*batch, *[-1] * (folding.padded_size(len(batch), fold) - len(batch))]
    return np.asarray(padded, np.int64)
  columns = [np.concatenate([np.arange(s.start, s.stop) for s in lane] or [np.zeros(0, int)])
             for lane in plan]
  order = np.full((max(len(column) for column in columns), fold), -1)
  for j, column in enumerate(columns):
    order[:len(column), j] = column
  return order.reshape(-1)
