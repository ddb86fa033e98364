"""The grain input pipeline over `tfds.data_source`: seeded shuffle, curriculum filter, host
sharding, fold-aware batches with a drop or pad policy, prefetch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from foldedcnn_jax.data import prepare as prepare_lib
from foldedcnn_jax.data.common import DatasetError, check_split
from foldedcnn_jax.tasks import get_task

_REMAINDERS = ("drop", "pad")


class _ReadBatch:
  """grain batch_fn: reads the records of a batch of positions in one batched call and stacks
  them, padding to batch_size with zero images, label 0 and mask False."""

  def __init__(self, source, indices: np.ndarray, batch_size: int, image_shape: tuple[int, ...]):
    self.source, self.indices = source, indices
    self.batch_size, self.image_shape = batch_size, image_shape

  def __call__(self, positions) -> dict[str, np.ndarray]:
    records = self.source.__getitems__([int(self.indices[p]) for p in positions])
    return _collate(records, batch_size=self.batch_size, image_shape=self.image_shape)


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


def _collate(examples, *, batch_size: int, image_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
  """Stacks examples into a batch, padding to batch_size with zero images and mask False."""
  count = len(examples)
  images = np.zeros((batch_size, *image_shape), np.uint8)
  labels = np.zeros(batch_size, np.int32)
  for row, example in enumerate(examples):
    images[row] = example["image"]
    labels[row] = example["label"]
  mask = np.arange(batch_size) < count
  return {"image": images, "label": labels, "mask": mask}


def _check_batching(batch_size: int, fold: int, remainder: str) -> None:
  for name, value in (("batch_size", batch_size), ("fold", fold)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
      raise DatasetError(f"{name} must be an integer >= 1, got {value!r}")
  if batch_size % fold:
    raise DatasetError(f"batch_size {batch_size} must be a multiple of the fold factor {fold}")
  if remainder not in _REMAINDERS:
    raise DatasetError(f"remainder must be 'drop' or 'pad', got {remainder!r}")


def _host_shard(shard_index: int | None, shard_count: int | None) -> tuple[int, int]:
  if shard_index is None or shard_count is None:
    import jax

    return jax.process_index(), jax.process_count()
  if not 0 <= shard_index < shard_count:
    raise DatasetError(f"shard_index must be in 0..{shard_count - 1}, got {shard_index}")
  return shard_index, shard_count


def make_batches(
    task_id: str,
    split: str,
    *,
    source: prepare_lib.Source,
    batch_size: int,
    fold: int = 1,
    epoch: int = 0,
    shuffle: bool = True,
    num_classes: int | None = None,
    remainder: str = "drop",
    worker_count: int = 0,
    shard_index: int | None = None,
    shard_count: int | None = None,
    progress: bool = True,
) -> Iterator[dict[str, np.ndarray]]:
  """One epoch of host-local batches; see `foldedcnn_jax.data.make_batches`."""
  import grain

  task = get_task(task_id)
  check_split(split)
  _check_batching(batch_size, fold, remainder)
  location = prepare_lib.prepare(task_id, source, progress=progress)
  indices = selected_indices(prepare_lib.split_labels(location, split), num_classes,
                             task.num_classes)
  shard_index, shard_count = _host_shard(shard_index, shard_count)
  per_host = len(indices) // shard_count if remainder == "drop" else -(-len(indices) // shard_count)
  num_batches = per_host // batch_size if remainder == "drop" else -(-per_host // batch_size)
  if num_batches == 0:
    raise DatasetError(f"split {split} of {task_id} has {len(indices)} examples "
                       f"({per_host} per host), fewer than one batch of {batch_size} "
                       "with remainder='drop'")
  # Elements are positions into `indices`; each batch's records are read in one call.
  dataset = grain.MapDataset.range(len(indices))
  if shuffle:
    dataset = dataset.shuffle(seed=epoch_seed(source.seed, epoch))
  if remainder == "drop":  # equal shards, so every host runs the same number of steps
    dataset = dataset[: per_host * shard_count]
  dataset = dataset[shard_index::shard_count]
  read = _ReadBatch(prepare_lib.data_source(location, split), indices, batch_size,
                    task.input_shape)
  dataset = dataset.batch(batch_size, drop_remainder=remainder == "drop", batch_fn=read)
  iterator = dataset.to_iter_dataset(grain.ReadOptions(num_threads=4, prefetch_buffer_size=4))
  if worker_count > 0:
    from absl import flags

    if not flags.FLAGS.is_parsed():  # grain's workers read absl flags; outside an absl app
      flags.FLAGS.mark_as_parsed()  # (tests, notebooks) their defaults apply
    iterator = iterator.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count))
  empty = _collate([], batch_size=batch_size, image_shape=task.input_shape)
  return _padded_to(iterator, num_batches, empty, copy=worker_count > 0)


def _padded_to(iterator, num_batches: int, empty: dict[str, np.ndarray], copy: bool):
  """The iterator's batches, then empty ones up to num_batches (a shorter host shard).

  Batches from grain workers live in shared memory; `copy` hands out ordinary arrays so none
  outlives its segment (grain's segments otherwise complain at interpreter exit).
  """
  emitted = 0
  for batch in iterator:
    emitted += 1
    yield {key: np.array(value) for key, value in batch.items()} if copy else batch
  for _ in range(num_batches - emitted):
    yield dict(empty)


def num_examples(task_id: str, split: str, *, source: prepare_lib.Source,
                 num_classes: int | None = None, progress: bool = True) -> int:
  location = prepare_lib.prepare(task_id, source, progress=progress)
  labels = prepare_lib.split_labels(location, split)
  return len(selected_indices(labels, num_classes, get_task(task_id).num_classes))


def load_split(task_id: str, split: str, *, source: prepare_lib.Source, limit: int | None = None,
               progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
  """The first `limit` records of a split (all by default) as (images uint8, labels int32)."""
  task = get_task(task_id)
  location = prepare_lib.prepare(task_id, source, progress=progress)
  records = prepare_lib.data_source(location, split)
  if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                            or limit < 0):
    raise DatasetError(f"limit must be an integer >= 0, got {limit!r}")
  count = len(records) if limit is None else min(limit, len(records))
  images = np.zeros((count, *task.input_shape), np.uint8)
  labels = np.zeros(count, np.int32)
  for start in range(0, count, 4096):
    chunk = records.__getitems__(list(range(start, min(start + 4096, count))))
    for offset, example in enumerate(chunk):
      images[start + offset] = example["image"]
      labels[start + offset] = example["label"]
  return images, labels
