"""Where a run's batches come from: a split held on the devices (batches gathered in-graph inside
a `lax.scan` of steps) or the grain pipeline (the fallback for splits over the memory budget).

Both follow the same `BatchIndices` (foldedcnn_jax.data.pipeline), so they train on the same
batches in the same order; each process reads only the records it holds or feeds.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from foldedcnn_jax.data import pipeline
from foldedcnn_jax.data import prepare as prepare_lib
from foldedcnn_jax.runtime.folding import pad_to
from foldedcnn_jax.train import steps as steps_lib


@dataclasses.dataclass
class Dataset:
  """A prepared dataset of a task: labels of every split (read once) and its records."""

  location: prepare_lib.Location
  image_shape: tuple[int, int, int]
  worker_count: int = 0

  def labels(self, split: str) -> np.ndarray:
    """Every label of the split in record order (read once per process, then cached)."""
    return prepare_lib.split_labels(self.location, split)

  def size(self, split: str) -> int:
    return len(self.labels(split))

  def nbytes(self, split: str) -> int:
    return self.size(split) * int(np.prod(self.image_shape))

  def source(self, split: str):
    return prepare_lib.data_source(self.location, split)


@dataclasses.dataclass
class Steps:
  """The compiled steps of one run, for both data paths (jitted once, on first use)."""

  graphdef: object
  mesh: jax.sharding.Mesh
  step_kwargs: dict  # tx, fold, distillation, teacher_graphdef
  eval_kwargs: dict  # fold, top_k
  teacher_params: object = None
  compiler_options: dict | None = None  # XLA options of every compiled step

  def __post_init__(self):
    mesh, graphdef = self.mesh, self.graphdef
    train = functools.partial(steps_lib.jit_train, compiler_options=self.compiler_options,
                              **self.step_kwargs)
    evaluate = functools.partial(steps_lib.jit_eval, compiler_options=self.compiler_options,
                                 **self.eval_kwargs)
    self.train_scan = train(steps_lib.train_steps, graphdef, mesh, mesh=mesh)
    self.train_gathered = train(steps_lib.train_gathered, graphdef, mesh, mesh=mesh)
    self.train_one = train(steps_lib.train_and_accumulate, graphdef, mesh)
    self.eval_scan = evaluate(steps_lib.eval_steps, graphdef, mesh, mesh=mesh)
    self.eval_one = evaluate(steps_lib.eval_and_accumulate, graphdef, mesh)

  def zero_train_sums(self, state, batch) -> dict:
    step = functools.partial(steps_lib.train_step, self.graphdef, **self.step_kwargs)
    return steps_lib.replicate(steps_lib.zero_sums(step, state, batch, self.teacher_params),
                               self.mesh)

  def zero_eval_sums(self, params, batch) -> dict:
    step = functools.partial(steps_lib.eval_step, self.graphdef, **self.eval_kwargs)
    return steps_lib.replicate(steps_lib.zero_sums(step, params, batch, 0), self.mesh)


def _example_batch(image_shape, width: int) -> dict:
  return {"image": jax.ShapeDtypeStruct((width, *image_shape), np.uint8),
          "label": jax.ShapeDtypeStruct((width,), np.int32),
          "mask": jax.ShapeDtypeStruct((width,), np.bool_)}


class DeviceSplit:
  """A split on the devices, its rows sharded over "data"; each process reads only its rows.

  Row `size` onwards is zeros: the padding index of the split's batch plans."""

  engine = "device"

  def __init__(self, dataset: Dataset, split: str, mesh: jax.sharding.Mesh):
    self.mesh, self.padding_index = mesh, dataset.size(split)
    devices = jax.device_count()
    rows = -(-(self.padding_index + 1) // devices) * devices
    per_process = rows // jax.process_count()
    start = jax.process_index() * per_process
    mine = np.arange(start, min(start + per_process, self.padding_index))
    images, labels = pipeline.read_records(dataset.location, split, mine, dataset.image_shape)
    images, labels = pad_to(images, per_process), pad_to(labels, per_process)
    sharding = NamedSharding(mesh, P("data"))
    self.data = {
        "image": jax.make_array_from_process_local_data(sharding, images,
                                                        (rows, *dataset.image_shape)),
        "label": jax.make_array_from_process_local_data(sharding, labels, (rows,))}
    self.rows_read = len(mine)

  def _put(self, batches: pipeline.BatchIndices):
    return (steps_lib.replicate(batches.indices, self.mesh),
            steps_lib.replicate(batches.mask, self.mesh))

  def train(self, steps: Steps, state, sums, batches: pipeline.BatchIndices, steps_per_call: int,
            on_progress=None):
    """Runs the steps of `batches`, `steps_per_call` per compiled call (a `lax.scan`), or, with one
    step per call, one compiled step per dispatch gathering its row of the epoch's indices."""
    if steps_per_call == 1:
      indices, mask = self._put(batches)
      for row in range(batches.num_batches):
        state, sums = steps.train_gathered(state, sums, self.data, indices, mask, np.int32(row),
                                           steps.teacher_params)
        if on_progress is not None:
          on_progress(1)
      return state, sums
    for start in range(0, batches.num_batches, steps_per_call):
      chunk = batches.steps(start, start + steps_per_call)
      state, sums = steps.train_scan(state, sums, self.data, *self._put(chunk),
                                     steps.teacher_params)
      if on_progress is not None:
        on_progress(chunk.num_batches)
    return state, sums

  def evaluate(self, steps: Steps, params, sums, batches: pipeline.BatchIndices, num_seen):
    return steps.eval_scan(params, sums, self.data, *self._put(batches), np.int32(num_seen))

  def read(self, batches: pipeline.BatchIndices):
    """The batches as the compiled steps see them (for tests and inspection)."""
    gather = jax.jit(functools.partial(steps_lib.gather_batch, mesh=self.mesh))
    indices, mask = self._put(batches)
    for row in range(batches.num_batches):
      yield jax.device_get(gather(self.data, indices[row], mask[row]))


class StreamSplit:
  """A split read by the grain pipeline, one host-local share of every batch per process."""

  engine = "stream"

  def __init__(self, dataset: Dataset, split: str, mesh: jax.sharding.Mesh):
    self.dataset, self.split, self.mesh = dataset, split, mesh
    self.padding_index = dataset.size(split)
    self.rows_read = 0

  def read(self, batches: pipeline.BatchIndices):
    share = batches.columns(jax.process_index(), jax.process_count())
    self.rows_read = int(share.mask.sum())
    return pipeline.read_batches(self.dataset.source(self.split), share,
                                 self.dataset.image_shape,
                                 worker_count=self.dataset.worker_count)

  def train(self, steps: Steps, state, sums, batches: pipeline.BatchIndices, steps_per_call: int,
            on_progress=None):
    for batch in self.read(batches):
      state, sums = steps.train_one(state, sums, steps_lib.shard_batch(batch, self.mesh),
                                    steps.teacher_params)
      if on_progress is not None:
        on_progress(1)
    return state, sums

  def evaluate(self, steps: Steps, params, sums, batches: pipeline.BatchIndices, num_seen):
    for batch in self.read(batches):
      sums = steps.eval_one(params, sums, steps_lib.shard_batch(batch, self.mesh),
                            np.int32(num_seen))
    return sums


def open_split(dataset: Dataset, split: str, mesh, engine: str, budget_bytes: int):
  """The split on the devices when `engine` asks for it or ("auto") it fits the budget."""
  if engine == "device" or (engine == "auto" and dataset.nbytes(split) <= budget_bytes):
    return DeviceSplit(dataset, split, mesh)
  return StreamSplit(dataset, split, mesh)


def example_batch(dataset: Dataset, width: int) -> dict:
  return _example_batch(dataset.image_shape, width)
