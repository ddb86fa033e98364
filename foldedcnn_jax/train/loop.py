"""The epoch loop: data → sharded jitted steps → per-epoch metrics → latest/best checkpoints.

Determinism: the model comes from `config.seed`, each epoch's batches are a pure function of
(data seed, epoch) and the curriculum of the epoch, and checkpoints are taken at epoch ends, so
a run killed at any moment and started again ends with the same parameters and metrics.
"""

from __future__ import annotations

import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from foldedcnn_jax.models import cnn
from foldedcnn_jax.train import checkpoints as checkpoints_lib
from foldedcnn_jax.train import config as config_lib
from foldedcnn_jax.train import metrics as metrics_lib
from foldedcnn_jax.train import steps as steps_lib

TOP_K = 5


class TrainingDivergedError(FloatingPointError):
  """The training loss became NaN or infinite."""


def _log(message: str) -> None:
  if jax.process_index() == 0:
    print(message, flush=True)


def _write_json_atomically(path: str, payload: dict) -> None:
  temporary = f"{path}.tmp{os.getpid()}"
  with open(temporary, "w") as file:
    json.dump(payload, file, indent=2, sort_keys=True)
    file.write("\n")
  os.replace(temporary, path)


def _prepare_workdir(plan: config_lib.Plan, config_dict: dict) -> None:
  """Creates the workdir and saves config.json / task.json; refuses a different run's workdir."""
  config_path = os.path.join(plan.workdir, "config.json")
  if os.path.exists(config_path):
    with open(config_path) as file:
      changed = config_lib.changed_fields(json.load(file), config_dict)
    if changed:
      raise config_lib.ConfigError(
          f"workdir {plan.workdir} holds a run with a different config ({', '.join(changed)} "
          "differ); pass another --config.workdir or delete that directory")
  if jax.process_index() != 0:
    return
  os.makedirs(plan.workdir, exist_ok=True)
  _write_json_atomically(config_path, config_dict)
  task = plan.task
  _write_json_atomically(os.path.join(plan.workdir, "task.json"), {
      "id": task.id, "name": task.name, "family": task.family,
      "input_shape": list(task.input_shape), "class_names": list(task.class_names),
      "architecture": plan.spec.architecture, "fold": plan.fold,
      "params": plan.spec.params})


def _maybe_initialize_distributed(config) -> None:
  settings = config.distributed
  if settings.coordinator_address and not jax.distributed.is_initialized():
    jax.distributed.initialize(settings.coordinator_address, settings.num_processes,
                               settings.process_id)


def _host_local(batch: dict[str, np.ndarray], multiple: int) -> dict[str, np.ndarray]:
  """Pads a global batch for the mesh, then keeps this process's contiguous share of rows."""
  batch = steps_lib.pad_batch(batch, multiple)
  processes = jax.process_count()
  if processes == 1:
    return batch
  share = len(batch["label"]) // processes
  start = jax.process_index() * share
  return {key: value[start:start + share] for key, value in batch.items()}


def _add(total, metrics):
  return metrics if total is None else jax.tree.map(jnp.add, total, metrics)


def _fetch(sums) -> dict[str, float]:
  return {key: float(value) for key, value in jax.device_get(sums).items()}


def _load_teacher(config, plan: config_lib.Plan, mesh):
  from foldedcnn_jax import predict  # the teacher is read like any trained checkpoint

  teacher = predict.load(config.distillation.teacher, which="best")
  if teacher.task_id != plan.task.id or teacher.fold != 1:
    raise config_lib.ConfigError(
        f"config.distillation.teacher must be an f=1 model of task {plan.task.id!r}, got "
        f"task {teacher.task_id!r} at f={teacher.fold}")
  return teacher.graphdef, steps_lib.replicate(teacher.params, mesh)


class _Trainer:
  """The compiled steps and the data of one run, per epoch."""

  def __init__(self, config, plan: config_lib.Plan, mesh, graphdef, tx):
    from foldedcnn_jax import data as data_lib  # grain/TFDS load only when training

    self.config, self.plan, self.mesh, self.data = config, plan, mesh, data_lib
    self.multiple = plan.fold * jax.device_count()
    self.teacher_params, distillation, teacher_graphdef = None, None, None
    if config.distillation.teacher:
      teacher_graphdef, self.teacher_params = _load_teacher(config, plan, mesh)
      distillation = steps_lib.Distillation(config.distillation.loss,
                                            config.distillation.temperature,
                                            config.distillation.alpha)
    self.train_step = steps_lib.jit_train_step(
        graphdef, mesh, tx=tx, fold=plan.fold, distillation=distillation,
        teacher_graphdef=teacher_graphdef)
    top_k = TOP_K if plan.num_classes > TOP_K else 1
    self.eval_step = steps_lib.jit_eval_step(graphdef, mesh, fold=plan.fold, top_k=top_k)

  def _batches(self, split: str, **kwargs):
    # Every process reads the whole global batch and keeps its share (`_host_local`), so the
    # batches, and the training trajectory, do not depend on the number of processes.
    return self.data.make_batches(self.plan.task.id, split, fold=self.plan.fold,
                                  worker_count=self.config.data.worker_count, shard_index=0,
                                  shard_count=1, progress=False, **self.plan.data_kwargs,
                                  **kwargs)

  def train_epoch(self, state, epoch: int, num_classes: int):
    plan = self.plan
    subset = num_classes if plan.curriculum.enabled else None
    num_train = self.data.num_examples(plan.task.id, "train", num_classes=subset, progress=False,
                                       **plan.data_kwargs)
    steps_per_epoch = num_train // plan.batch_size
    if steps_per_epoch == 0:
      raise config_lib.ConfigError(
          f"config.batch_size={plan.batch_size} is larger than the {plan.task.id} training "
          "split; lower it or raise config.data.scale")
    batches = self._batches("train", batch_size=plan.batch_size, epoch=epoch, shuffle=True,
                            num_classes=subset, remainder="drop")
    progress = _progress(self.config, steps_per_epoch, f"epoch {epoch + 1}/{plan.num_epochs}")
    sums = None
    for batch in batches:
      sharded = steps_lib.shard_batch(_host_local(batch, self.multiple), self.mesh)
      state, metrics = self.train_step(state, sharded, self.teacher_params)
      sums = _add(sums, metrics)
      if progress is not None:
        progress.update()
    if progress is not None:
      progress.close()
    return state, _fetch(sums)

  def evaluate(self, params, split: str, num_classes_seen: int) -> dict[str, float]:
    sums = None
    for batch in self._batches(split, batch_size=self.plan.eval_batch_size, epoch=0,
                               shuffle=False, remainder="pad"):
      sharded = steps_lib.shard_batch(_host_local(batch, self.multiple), self.mesh)
      sums = _add(sums, self.eval_step(params, sharded, jnp.int32(num_classes_seen)))
    return _fetch(sums)


def _progress(config, total: int, description: str):
  if not config.progress or jax.process_index() != 0:
    return None
  from tqdm import tqdm

  return tqdm(total=total, desc=description, leave=False, file=sys.stderr, unit="step")


def _initial_state(config, plan, tx, mesh):
  model = cnn.create_model(plan.spec, seed=config.seed, param_dtype=config.model.param_dtype,
                           dtype=config.model.dtype)
  graphdef, params = nnx.split(model)
  state = {"params": params, "opt_state": tx.init(params), "step": jnp.int32(0)}
  return graphdef, steps_lib.replicate(state, mesh)


def _epoch_line(record: dict) -> str:
  seen = ""
  if record["val_accuracy_seen"] != record["val_accuracy"]:  # the curriculum holds classes back
    seen = f" (seen classes {record['val_accuracy_seen']:.4f})"
  parts = [f"epoch {record['epoch']}", f"classes {record['num_classes_seen']}",
           f"train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.4f}",
           f"val acc {record['val_accuracy']:.4f}{seen}", f"test acc {record['test_accuracy']:.4f}",
           f"{record['images_per_second']:.0f} img/s"]
  return " | ".join(parts)


def train_and_evaluate(config, workdir: str | None = None) -> dict:
  """Trains (or resumes) the run described by `config`; returns a summary of the best epoch."""
  plan = config_lib.make_plan(config, workdir)
  config_dict = config_lib.config_to_dict(config)
  _maybe_initialize_distributed(config)
  _prepare_workdir(plan, config_dict)
  from foldedcnn_jax import data as data_lib

  dataset_dir = data_lib.prepare_dataset(plan.task.id, progress=config.progress,
                                         **plan.data_kwargs)
  _log(f"task {plan.task.id} ({plan.task.name}) f={plan.fold}: {plan.spec.params:,} params, "
       f"batch {plan.batch_size} images on {jax.device_count()} device(s); data {dataset_dir}; "
       f"workdir {plan.workdir}")
  mesh = steps_lib.make_mesh()
  tx = steps_lib.make_optimizer(config.optimizer)
  graphdef, state = _initial_state(config, plan, tx, mesh)
  trainer = _Trainer(config, plan, mesh, graphdef, tx)
  checkpoints = checkpoints_lib.RunCheckpoints(plan.workdir, config.checkpoint.keep)
  restored = checkpoints.restore_latest(state)
  meta = {"epoch": 0, "step": 0, "best_val_accuracy": -1.0, "best_epoch": 0}
  if restored is not None:
    state, meta = restored
    state = steps_lib.replicate(state, mesh)
    _log(f"resumed from epoch {meta['epoch']} (step {meta['step']})")
  writer = metrics_lib.MetricsWriter(plan.workdir, resume_epoch=meta["epoch"],
                                     tensorboard=config.tensorboard,
                                     enabled=jax.process_index() == 0)
  model_record = checkpoints_lib.model_record(plan, config_dict)
  try:
    for epoch in range(meta["epoch"], plan.num_epochs):
      state, record = _run_epoch(trainer, state, epoch)
      is_best = record["val_accuracy"] > meta["best_val_accuracy"]
      if is_best:
        meta.update(best_val_accuracy=record["val_accuracy"], best_epoch=record["epoch"])
      meta.update(epoch=record["epoch"], step=record["step"])
      writer.write(record)
      checkpoints.save(record["epoch"], state, dict(meta), model_record, is_best=is_best)
      _log(_epoch_line(record))
  finally:
    checkpoints.close()
    writer.close()
  return _summary(plan.workdir, meta)


def _run_epoch(trainer: _Trainer, state, epoch: int) -> tuple[dict, dict]:
  """Trains one epoch and evaluates on val and test: (new state, the epoch's record)."""
  plan = trainer.plan
  num_classes = plan.curriculum.classes_at(epoch, plan.num_classes)
  started = time.perf_counter()
  state, train_sums = trainer.train_epoch(state, epoch, num_classes)
  jax.block_until_ready(state)
  trained = time.perf_counter()
  record = {"epoch": epoch + 1, "step": int(state["step"]), "num_classes_seen": num_classes,
            "train_images": int(train_sums["count"])}
  record.update(metrics_lib.summarize(train_sums, "train"))
  if not all(np.isfinite(value) for value in train_sums.values()):
    raise TrainingDivergedError(
        f"training diverged: the train loss is {record['train_loss']} in epoch {epoch + 1} "
        f"(step {record['step']}); lower config.optimizer.learning_rate")
  for split in ("val", "test"):
    record.update(metrics_lib.summarize(trainer.evaluate(state["params"], split, num_classes),
                                        split, num_classes, TOP_K))
  record.update(images_per_second=train_sums["count"] / (trained - started),
                epoch_seconds=trained - started, eval_seconds=time.perf_counter() - trained)
  return state, record


def _summary(workdir: str, meta: dict) -> dict:
  records = metrics_lib.read_metrics(workdir)
  best = next((r for r in records if r["epoch"] == meta["best_epoch"]), None)
  return {"workdir": workdir, "epochs": meta["epoch"], "best_epoch": meta["best_epoch"],
          "best_val_accuracy": meta["best_val_accuracy"],
          "test_accuracy_at_best": best["test_accuracy"] if best else None,
          "final": records[-1] if records else None}
