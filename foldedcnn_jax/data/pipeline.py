"""The input pipeline, training's and the data API's: seeded shuffle, curriculum filter, folded
groups, batches with a drop or pad policy (`epoch_batches`), each process's share of every batch
read by grain over `tfds.data_source` with prefetch (`read_batches`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from foldedcnn_jax.data import prepare as prepare_lib
from foldedcnn_jax.data.common import DatasetError, TrainGroups, check_split
from foldedcnn_jax.runtime import grouping as grouping_lib
from foldedcnn_jax.tasks import get_task

_REMAINDERS = ("drop", "pad")
UNFOLDED = TrainGroups()  # one image per input, no repetition


@dataclasses.dataclass(frozen=True)
class BatchIndices:
  """The record indices of an epoch's batches, in order: the one order both data paths follow.

  `indices[b]` are the records of batch b (`padding_index` where `mask` is False); the grain
  path reads them, the device-resident path gathers them in-graph from the split on device.
  """

  indices: np.ndarray  # (num_batches, batch_size) int32
  mask: np.ndarray  # (num_batches, batch_size) bool

  @property
  def num_batches(self) -> int:
    return self.indices.shape[0]

  @property
  def batch_size(self) -> int:
    return self.indices.shape[1]

  def columns(self, index: int, count: int) -> BatchIndices:
    """Process `index` of `count`'s contiguous share of every batch (rows of a global batch)."""
    share = self.batch_size // count
    if share * count != self.batch_size:
      raise DatasetError(f"batch size {self.batch_size} does not split over {count} processes")
    rows = slice(index * share, (index + 1) * share)
    return BatchIndices(self.indices[:, rows], self.mask[:, rows])

  def steps(self, start: int, stop: int) -> BatchIndices:
    return BatchIndices(self.indices[start:stop], self.mask[start:stop])


def epoch_seed(seed: int, epoch: int) -> int:
  """The shuffle seed of one epoch: a pure function of (seed, epoch)."""
  return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def selected_indices(labels: np.ndarray, num_classes: int | None, task_classes: int) -> np.ndarray:
  """Record indices kept by the curriculum filter (all of them when num_classes is None)."""
  if num_classes is None:
    return np.arange(len(labels))
  if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or not (
      1 <= num_classes <= task_classes):
    raise DatasetError(f"num_classes must be an integer in 1..{task_classes}, got {num_classes!r}")
  return np.flatnonzero(labels < num_classes)


def epoch_order(labels: np.ndarray, *, task_classes: int, seed: int, epoch: int,
                shuffle: bool = True, num_classes: int | None = None,
                groups: TrainGroups = UNFOLDED, batch_size: int = 0) -> np.ndarray:
  """The records of one epoch in the order training reads them: the curriculum's subset,
  permuted by (seed, epoch), folded as `groups` says.

  With fold > 1 and a consecutive grouping, the order is made of aligned groups of f: each
  group is f consecutive records of the subset (cut at an epoch-dependent offset) or, for "mix",
  f independent records with probability 1 − consecutive_share; the groups are shuffled. With
  batch repetition R > 1, every `batch_size` records are followed by R − 1 permutations of
  themselves (training then cuts batches of R·batch_size; a last partial batch is not repeated).
  With input repetition ρ > 0, each aligned group of f then holds its first record f times with
  probability ρ. Both are drawn apart from the shuffle, so ρ = 0 and R = 1 give the same order.
  """
  indices = selected_indices(labels, num_classes, task_classes)
  if not shuffle:
    return indices
  order = grouping_lib.training_order(indices, np.random.default_rng(epoch_seed(seed, epoch)),
                                      groups.fold, groups.grouping, groups.consecutive_share)
  if groups.batch_repetition > 1:
    if batch_size < 1:
      raise DatasetError("batch repetition needs the batch size")
    order = grouping_lib.repeat_batches(
        order, batch_size, groups.batch_repetition,
        np.random.default_rng(np.random.SeedSequence([seed, epoch, groups.batch_repetition])))
  if groups.fold > 1 and groups.input_repetition > 0:
    grouping_lib.repeat_inputs(order, groups.fold, groups.input_repetition,
                               np.random.default_rng(np.random.SeedSequence(
                                   [seed, epoch, groups.fold])))
  return order


def epoch_batches(labels: np.ndarray, *, task_classes: int, seed: int, epoch: int,
                  batch_size: int, shuffle: bool = True, num_classes: int | None = None,
                  groups: TrainGroups = UNFOLDED, remainder: str = "drop",
                  row_multiple: int = 1) -> BatchIndices:
  """An epoch's batches as training forms them: `epoch_order` cut by `batch_indices` into
  batches of batch_size × the batch repetition, masked rows pointing one past the split
  (`len(labels)`)."""
  order = epoch_order(labels, task_classes=task_classes, seed=seed, epoch=epoch, shuffle=shuffle,
                      num_classes=num_classes, groups=groups, batch_size=batch_size)
  return batch_indices(order, batch_size * groups.batch_repetition, remainder=remainder,
                       padding_index=len(labels), row_multiple=row_multiple)


def batch_indices(order: np.ndarray, batch_size: int, *, remainder: str = "drop",
                  padding_index: int = 0, row_multiple: int = 1) -> BatchIndices:
  """Cuts an order into batches: the last partial one dropped or padded (mask False); every
  batch is then padded to a multiple of `row_multiple` (fold × devices) with masked rows."""
  count = len(order) // batch_size * batch_size if remainder == "drop" else len(order)
  num_batches = -(-count // batch_size)
  width = -(-batch_size // row_multiple) * row_multiple
  indices = np.full((num_batches, width), padding_index, np.int32)
  mask = np.zeros((num_batches, width), bool)
  rows, columns = np.divmod(np.arange(count), batch_size)
  indices[rows, columns] = order[:count]
  mask[rows, columns] = True
  return BatchIndices(indices, mask)


class _ReadBatch:
  """grain map function: batch number → its records read in one call; masked rows are zero
  images with label 0."""

  def __init__(self, source, batches: BatchIndices, image_shape: tuple[int, ...]):
    self.source, self.batches, self.image_shape = source, batches, image_shape

  def __call__(self, batch: int) -> dict[str, np.ndarray]:
    mask = self.batches.mask[batch]
    images = np.zeros((len(mask), *self.image_shape), np.uint8)
    labels = np.zeros(len(mask), np.int32)
    rows = np.flatnonzero(mask)
    records = self.source.__getitems__([int(i) for i in self.batches.indices[batch][rows]])
    for row, example in zip(rows, records, strict=True):
      images[row] = example["image"]
      labels[row] = example["label"]
    return {"image": images, "label": labels, "mask": mask.copy()}


def read_batches(source, batches: BatchIndices, image_shape: tuple[int, ...], *,
                 worker_count: int = 0) -> Iterator[dict[str, np.ndarray]]:
  """The batches of `batches` read from a random-access source by grain (threads or workers)."""
  import grain

  read = _ReadBatch(source, batches, image_shape)
  dataset = grain.MapDataset.range(batches.num_batches).map(read)
  iterator = dataset.to_iter_dataset(grain.ReadOptions(num_threads=4, prefetch_buffer_size=4))
  if worker_count > 0:
    from absl import flags

    if not flags.FLAGS.is_parsed():  # grain's workers read absl flags; outside an absl app
      flags.FLAGS.mark_as_parsed()  # (tests, notebooks) their defaults apply
    iterator = iterator.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count))
  return _copied(iterator) if worker_count > 0 else iter(iterator)


def _copied(iterator):
  """Batches from grain workers live in shared memory; ordinary copies outlive the segments
  (grain otherwise complains at interpreter exit)."""
  for batch in iterator:
    yield {key: np.array(value) for key, value in batch.items()}


def _check_batching(batch_size: int, fold: int, remainder: str) -> None:
  for name, value in (("batch_size", batch_size), ("fold", fold)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
      raise DatasetError(f"{name} must be an integer >= 1, got {value!r}")
  if batch_size % fold:
    raise DatasetError(f"batch_size {batch_size} must be a multiple of the fold factor {fold}")
  if remainder not in _REMAINDERS:
    raise DatasetError(f"remainder must be 'drop' or 'pad', got {remainder!r}")


def make_batches(
    task_id: str,
    split: str,
    source: prepare_lib.Source | None = None,
    *,
    batch_size: int,
    fold: int = 1,
    epoch: int = 0,
    shuffle: bool = True,
    num_classes: int | None = None,
    grouping: str = "independent",
    remainder: str = "drop",
    worker_count: int = 0,
    process_index: int | None = None,
    process_count: int | None = None,
    progress: bool = True,
) -> Iterator[dict[str, np.ndarray]]:
  """One epoch of batches {"image": uint8 (B,H,W,C), "label": int32, "mask": bool}, made as
  training makes them (`epoch_batches`, then this process's share read by grain).

  Prepares the dataset first if it is missing. `batch_size` images per (global) batch, a
  multiple of `fold`; the order is a pure function of (seed, epoch); with fold > 1, `grouping`
  (data.common.TRAIN_GROUPINGS) forms the folded groups. `num_classes=n` keeps labels < n
  (curriculum). `remainder="drop"` drops the last partial batch; "pad" fills it with zero
  images, label 0, mask False. Each of `process_count` processes (default
  `jax.process_count()`) reads its contiguous share of every batch (`process_index`, default
  `jax.process_index()`), batches padded (mask False) to a multiple of fold × processes.
  """
  task = get_task(task_id)
  check_split(split)
  _check_batching(batch_size, fold, remainder)
  if process_index is None or process_count is None:
    import jax

    process_index, process_count = jax.process_index(), jax.process_count()
  if not 0 <= process_index < process_count:
    raise DatasetError(f"process_index must be in 0..{process_count - 1}, got {process_index}")
  source = source or prepare_lib.Source()
  location = prepare_lib.dataset_location(task_id, source, progress=progress)
  labels = prepare_lib.split_labels(location, split)
  batches = epoch_batches(labels, task_classes=task.num_classes, seed=source.seed, epoch=epoch,
                          batch_size=batch_size, shuffle=shuffle, num_classes=num_classes,
                          groups=TrainGroups(fold, grouping), remainder=remainder,
                          row_multiple=fold * process_count)
  if batches.num_batches == 0:
    selected = len(selected_indices(labels, num_classes, task.num_classes))
    raise DatasetError(f"split {split} of {task_id} has {selected} examples, fewer than one "
                       f"batch of {batch_size} with remainder='drop'")
  return read_batches(prepare_lib.data_source(location, split),
                      batches.columns(process_index, process_count), task.input_shape,
                      worker_count=worker_count)


def read_records(location: prepare_lib.Location, split: str, rows: np.ndarray,
                 image_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
  """The records `rows` of a split as (images uint8, labels int32), read in chunks."""
  records = prepare_lib.data_source(location, split)
  images = np.zeros((len(rows), *image_shape), np.uint8)
  labels = np.zeros(len(rows), np.int32)
  for start in range(0, len(rows), 4096):
    chunk = records.__getitems__([int(i) for i in rows[start:start + 4096]])
    for offset, example in enumerate(chunk):
      images[start + offset] = example["image"]
      labels[start + offset] = example["label"]
  return images, labels


def num_examples(task_id: str, split: str, source: prepare_lib.Source | None = None, *,
                 num_classes: int | None = None, progress: bool = True) -> int:
  """Examples in a split (with label < num_classes when given); prepares it if missing."""
  location = prepare_lib.dataset_location(task_id, source or prepare_lib.Source(),
                                          progress=progress)
  labels = prepare_lib.split_labels(location, split)
  return len(selected_indices(labels, num_classes, get_task(task_id).num_classes))


def load_split(task_id: str, split: str, source: prepare_lib.Source | None = None, *,
               limit: int | None = None, progress: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
  """A split as arrays: images uint8 (N, H, W, C), labels int32 (N,); first `limit` records."""
  task = get_task(task_id)
  location = prepare_lib.dataset_location(task_id, source or prepare_lib.Source(),
                                          progress=progress)
  if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                            or limit < 0):
    raise DatasetError(f"limit must be an integer >= 0, got {limit!r}")
  total = len(prepare_lib.data_source(location, split))
  count = total if limit is None else min(limit, total)
  return read_records(location, split, np.arange(count), task.input_shape)


def load_run_split(task_id: str, run_config, split: str = "test", *, limit: int | None = None,
                   data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """`load_split` of the data a run trained on, named by its saved config's `data` fields (runs
  from before a field existed get its former default); `data_dir` overrides where it lives."""
  settings = dict((run_config or {}).get("data", {}))
  settings.setdefault("scale", 1.0)
  # Runs from before `eval_scale` existed generated val/test at `scale` too.
  settings.setdefault("eval_scale", settings["scale"])
  settings.setdefault("seed", 0)
  for field in ("data_dir", "video", "labels_csv", "image_folder"):
    settings.setdefault(field, "")
  if data_dir:
    settings["data_dir"] = data_dir
  return load_split(task_id, split, prepare_lib.Source.from_config(settings), limit=limit)
