"""The epoch loop: a built run (trainer.py) on the workdir it holds → per-epoch metrics → one
checkpoint manager. `train_run` trains one run; recipe.py strings runs into the warm start.

Determinism: the model comes from `config.seed`, each epoch's batches are a pure function of
(data seed, epoch) and the curriculum of the epoch, and checkpoints are taken at epoch ends, so
a run killed at any moment and started again ends with the same parameters and metrics.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator

import jax
import numpy as np

from foldedcnn_jax import files
from foldedcnn_jax.train import checkpoints as checkpoints_lib
from foldedcnn_jax.train import config as config_lib
from foldedcnn_jax.train import metrics as metrics_lib
from foldedcnn_jax.train import saved_config
from foldedcnn_jax.train import steps as steps_lib
from foldedcnn_jax.train import trainer as trainer_lib
from foldedcnn_jax.train import workdir as workdir_lib


class TrainingDivergedError(FloatingPointError):
  """The training loss became NaN or infinite."""


def log(message: str) -> None:
  """Prints a line of the run's log (process 0 only)."""
  if jax.process_index() == 0:
    print(message, flush=True)


def _write_json_atomically(path: str, payload: dict) -> None:
  with files.atomic_path(path) as temporary, open(temporary, "w") as file:
    json.dump(payload, file, indent=2, sort_keys=True)
    file.write("\n")


def _init_workdir(settings: config_lib.RunSettings, config_dict: dict) -> None:
  """Creates the workdir and saves config.json / task.json; refuses a different run's workdir."""
  config_path = os.path.join(settings.workdir, "config.json")
  task_path = os.path.join(settings.workdir, "task.json")
  if os.path.exists(config_path):
    with open(config_path) as file:
      changed = saved_config.changed_fields(json.load(file), config_dict)
    if os.path.exists(task_path):  # the model is the config's, or a recipe phase's own spec
      with open(task_path) as file:
        if json.load(file)["architecture"] != settings.spec.architecture:
          changed.append("model architecture")
    if changed:
      raise config_lib.ConfigError(
          f"workdir {settings.workdir} holds a run with a different config ({', '.join(changed)} "
          "differ); pass another --config.workdir or delete that directory")
  if jax.process_index() != 0:
    return
  os.makedirs(settings.workdir, exist_ok=True)
  _write_json_atomically(config_path, config_dict)
  task = settings.task
  _write_json_atomically(task_path, {
      "id": task.id, "name": task.name, "family": task.family,
      "input_shape": list(task.input_shape), "class_names": list(task.class_names),
      "architecture": settings.spec.architecture, "fold": settings.fold,
      "params": settings.spec.params})


def maybe_initialize_distributed(config) -> None:
  """Joins the multi-controller runtime when a coordinator is configured (CPU: gloo)."""
  distributed = config.distributed
  if distributed.coordinator_address and not jax.distributed.is_initialized():
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(distributed.coordinator_address, distributed.num_processes,
                               distributed.process_id)


def _epoch_line(record: dict) -> str:
  seen = ""
  if record["val_accuracy_seen"] != record["val_accuracy"]:  # the curriculum holds classes back
    seen = f" (seen classes {record['val_accuracy_seen']:.4f})"
  if "val_accuracy_stream" in record:
    seen += f" (stream order {record['val_accuracy_stream']:.4f})"
  parts = [f"epoch {record['epoch']}", f"classes {record['num_classes_seen']}",
           f"train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.4f}",
           f"val acc {record['val_accuracy']:.4f}{seen}"]
  if "test_accuracy" in record:
    stream = record.get("test_accuracy_stream")
    parts.append(f"test acc {record['test_accuracy']:.4f}" +
                 (f" (stream order {stream:.4f})" if stream is not None else ""))
  parts.append(f"{record['images_per_second']:.0f} img/s")
  return " | ".join(parts)


def _profiling(config, workdir: str, epoch: int):
  """A jax.profiler trace of the epoch's training steps when config.profile_epoch names it."""
  if config.profile_epoch != epoch + 1:
    return contextlib.nullcontext()
  directory = os.path.join(workdir, "profile")
  log(f"tracing epoch {epoch + 1} into {directory} (open with TensorBoard's profile plugin "
       "or Perfetto)")
  return jax.profiler.trace(directory)


def run_epoch(trainer: trainer_lib.Trainer, state, epoch: int) -> tuple[dict, dict]:
  """Trains one epoch and evaluates on val: (new state, the epoch's record)."""
  settings = trainer.settings
  num_classes = settings.curriculum.classes_at(epoch, settings.num_classes)
  started = time.perf_counter()
  with _profiling(trainer.config, settings.workdir, epoch):
    state, train_sums = trainer.train_epoch(state, epoch, num_classes)
  trained = time.perf_counter()
  record = {"epoch": epoch + 1, "step": int(state["step"]), "num_classes_seen": num_classes,
            "train_images": int(train_sums["count"])}
  record.update(metrics_lib.summarize(train_sums, "train"))
  if not all(np.isfinite(value) for value in train_sums.values()):
    raise TrainingDivergedError(
        f"training diverged: the train loss is {record['train_loss']} in epoch {epoch + 1} "
        f"(step {record['step']}); lower config.optimizer.learning_rate")
  record.update(trainer.evaluate_split(steps_lib.eval_params(state), "val", num_classes))
  record.update(images_per_second=train_sums["count"] / (trained - started),
                epoch_seconds=trained - started, eval_seconds=time.perf_counter() - trained)
  return state, record


def train_run(config, settings: config_lib.RunSettings) -> dict:
  """Trains (or resumes) one run of `settings.spec`; returns a summary of its best epoch."""
  with open_run(config, settings) as run:
    return run.train()


@contextlib.contextmanager
def open_run(config, settings: config_lib.RunSettings) -> Iterator[Session]:
  """Holds the run's workdir (a second run on a workdir in use is refused), builds the run and
  resumes it from its latest checkpoint; yields the Session that trains it."""
  config_dict = saved_config.config_to_dict(config)
  maybe_initialize_distributed(config)
  with workdir_lib.owned(settings.workdir):
    _init_workdir(settings, config_dict)
    trainer, state = trainer_lib.build(config, settings, progress=config.progress)
    repetition = config_lib.train_groups(config, 0).batch_repetition
    batch = f"{settings.batch_size} images" + (
        f" × {repetition} (batch repetition)" if repetition > 1 else "")
    log(f"task {settings.task.id} ({settings.task.name}) f={settings.fold}: "
         f"{settings.spec.params:,} params, batch {batch} on "
         f"{jax.device_count()} device(s) in {jax.process_count()} process(es); data "
         f"{trainer.dataset.location.version_dir}: {trainer.describe()}; "
         f"workdir {settings.workdir}")
    if jax.process_count() > 1:  # every process says how much of the data it read itself
      print(f"process {jax.process_index()}: {trainer.describe_reads()}", flush=True)
    session = Session(trainer, state, checkpoints_lib.model_record(settings, config_dict))
    try:
      yield session
    finally:
      session.close()


class Session:
  """A run in progress on the workdir it holds, resumed from its latest checkpoint: its state,
  the best-epoch bookkeeping, metrics and checkpoints. `fresh`: there was none to resume from."""

  def __init__(self, trainer: trainer_lib.Trainer, state, model_record: dict):
    self.trainer, self.model_record = trainer, model_record
    settings, config = trainer.settings, trainer.config
    self.checkpoints = checkpoints_lib.RunCheckpoints(settings.workdir, config.checkpoint.keep)
    restored = self.checkpoints.restore_latest(state)
    self.fresh = restored is None
    self.state, self.meta = state, {"epoch": 0, "best_val_accuracy": -1.0, "best_epoch": 0}
    if restored is not None:
      self.state, self.meta = restored
      log(f"resumed from epoch {self.meta['epoch']} (step {int(self.state['step'])})")
    # A fresh run keeps no metrics a killed earlier start wrote.
    self.writer = metrics_lib.MetricsWriter(
        settings.workdir, resume_epoch=-1 if self.fresh else self.meta["epoch"],
        tensorboard=config.tensorboard, enabled=jax.process_index() == 0)

  def start_from(self, params) -> dict:
    """Starts a fresh run from `params` instead of its initialisation, booked (evaluated on val,
    recorded, checkpointed) as epoch 0; returns that record."""
    trainer, settings = self.trainer, self.trainer.settings
    self.state = trainer.initial_state(params)
    started = time.perf_counter()
    record = {"epoch": 0, "step": int(self.state["step"]), "num_classes_seen": settings.num_classes}
    record.update(trainer.evaluate_split(steps_lib.eval_params(self.state), "val",
                                         settings.num_classes))
    record["eval_seconds"] = time.perf_counter() - started
    return self._book(record)

  def train(self) -> dict:
    """Trains the remaining epochs; returns the summary of the best one."""
    for epoch in range(self.meta["epoch"], self.trainer.settings.num_epochs):
      self.state, record = run_epoch(self.trainer, self.state, epoch)
      log(_epoch_line(self._book(record)))
    return _summary(self.trainer.settings, self.meta)

  def _book(self, record: dict) -> dict:
    """Books an evaluated epoch: test accuracy for the best and the final model, the
    best-by-validation bookkeeping, metrics, and the checkpoint."""
    trainer, meta, epoch = self.trainer, self.meta, record["epoch"]
    is_best = record["val_accuracy"] > meta["best_val_accuracy"]
    is_last = epoch == trainer.settings.num_epochs
    if is_best or is_last:
      record.update(trainer.evaluate_split(steps_lib.eval_params(self.state), "test",
                                           record["num_classes_seen"]))
    if is_best:
      meta.update(best_val_accuracy=record["val_accuracy"], best_epoch=epoch)
    meta.update(epoch=epoch, val_accuracy=record["val_accuracy"], is_best=is_best)
    self.writer.write(record)
    if is_best or is_last or epoch % trainer.config.checkpoint.every_epochs == 0:
      self.checkpoints.save(epoch, self.state, dict(meta), self.model_record)
    return record

  def close(self) -> None:
    self.checkpoints.close()
    self.writer.close()


def _summary(settings: config_lib.RunSettings, meta: dict) -> dict:
  records = metrics_lib.read_metrics(settings.workdir)
  best = next((r for r in records if r["epoch"] == meta["best_epoch"]), None)
  return {"workdir": settings.workdir, "epochs": meta["epoch"], "num_epochs": settings.num_epochs,
          "best_epoch": meta["best_epoch"],
          "best_val_accuracy": meta["best_val_accuracy"],
          "test_accuracy_at_best": best["test_accuracy"] if best else None,
          "final": records[-1] if records else None}
