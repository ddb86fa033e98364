"""orbax checkpoints of a run: `latest/` for resuming and `best/` by validation accuracy.

Each checkpoint step (= epochs completed) holds the items "params", "opt_state" (latest only),
"meta" (epoch, step, best validation accuracy) and "model" (the config, task and model spec), so
a checkpoint directory alone is enough to rebuild the model (see foldedcnn_jax/predict.py).
A latest checkpoint that cannot be read is reported, moved to `corrupt/`, and the previous one
is used.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import jax
import orbax.checkpoint as ocp
from absl import logging

from foldedcnn_jax.models import spec as spec_lib

LATEST, BEST = "latest", "best"


def _manager(directory: str, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, cleanup_tmp_directories=True)
  return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def abstract(tree):
  """Shape/dtype/sharding template of a pytree of arrays, for restoring into."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def model_record(plan, config_dict: dict) -> dict:
  """What `spec_from_record` needs to rebuild the model, plus the task's class names."""
  spec = plan.spec
  return {
      "task": plan.task.id, "class_names": list(plan.task.class_names),
      "architecture": spec.architecture, "input_shape": list(spec.input_shape),
      "pool_policy": spec.pool_policy, "fold": spec.fold,
      "width_multiplier": spec.width_multiplier, "width_rounding": spec.width_rounding,
      "param_dtype": config_dict["model"]["param_dtype"], "dtype": config_dict["model"]["dtype"],
      "config": config_dict,
  }


def spec_from_record(record: dict) -> spec_lib.ModelSpec:
  return spec_lib.ModelSpec(
      architecture=record["architecture"], input_shape=tuple(record["input_shape"]),
      pool_policy=record["pool_policy"], fold=record["fold"],
      width_multiplier=record["width_multiplier"], width_rounding=record["width_rounding"])


class RunCheckpoints:
  """The latest/best CheckpointManagers of one workdir."""

  def __init__(self, workdir: str, keep: int):
    self.root = os.path.join(workdir, "checkpoints")
    self.latest = _manager(os.path.join(self.root, LATEST), keep)
    self.best = _manager(os.path.join(self.root, BEST), 1)

  def restore_latest(self, state_template: dict) -> tuple[dict, dict] | None:
    """(state, meta) of the newest readable latest checkpoint, or None if there is none."""
    for step in sorted(self.latest.all_steps(), reverse=True):
      try:
        restored = self.latest.restore(step, args=ocp.args.Composite(
            params=ocp.args.StandardRestore(abstract(state_template["params"])),
            opt_state=ocp.args.StandardRestore(abstract(state_template["opt_state"])),
            meta=ocp.args.JsonRestore()))
      except Exception as error:  # noqa: BLE001 - any unreadable checkpoint falls back
        self._set_aside(step, error)
        continue
      meta = dict(restored.meta)
      state = {"params": restored.params, "opt_state": restored.opt_state,
               "step": jax.numpy.asarray(meta["step"], jax.numpy.int32)}
      self._drop_best_after(step)
      return state, meta
    self._drop_best_after(0)
    return None

  def _set_aside(self, step: int, error: Exception) -> None:
    source = os.path.join(self.latest.directory, str(step))
    target = os.path.join(self.root, "corrupt", f"{step}-{int(time.time())}")
    summary = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    logging.warning("checkpoint %s is corrupt or partial (%s); moved to %s, using the previous "
                    "one", source, summary, target)
    print(f"warning: checkpoint {source} is unreadable ({summary[:200]}); "
          f"moved it to {target} and fell back to the previous checkpoint", flush=True)
    if jax.process_index() == 0:
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(str(source), target)
    self.latest.reload()

  def _drop_best_after(self, step: int) -> None:
    """A killed run may have saved a best checkpoint past the resume point: it is redone."""
    for best_step in self.best.all_steps():
      if best_step > step:
        self.best.delete(best_step)
    self.best.reload()

  def save(self, epoch: int, state: dict, meta: dict, record: dict, *, is_best: bool) -> None:
    """Saves the epoch's latest checkpoint, and its best one when validation improved."""
    if is_best:
      self.best.save(epoch, args=ocp.args.Composite(
          params=ocp.args.StandardSave(state["params"]), meta=ocp.args.JsonSave(meta),
          model=ocp.args.JsonSave(record)))
    self.latest.save(epoch, args=ocp.args.Composite(
        params=ocp.args.StandardSave(state["params"]),
        opt_state=ocp.args.StandardSave(state["opt_state"]), meta=ocp.args.JsonSave(meta),
        model=ocp.args.JsonSave(record)))

  def close(self) -> None:
    for manager in (self.latest, self.best):
      manager.wait_until_finished()
      manager.close()


def find_checkpoint(path: str, which: str = BEST) -> tuple[str, int]:
  """(manager directory, step) for a workdir, a latest/best directory, or one step directory."""
  if which not in (LATEST, BEST):
    raise ValueError(f"which must be {LATEST!r} or {BEST!r}, got {which!r}")
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"no such workdir or checkpoint directory: {path}")
  candidates = [os.path.join(path, "checkpoints", which), os.path.join(path, which), path]
  for directory in candidates:
    steps = [int(name) for name in _listdir(directory) if name.isdigit()
             and os.path.exists(os.path.join(directory, name, "model"))]
    if steps:
      return directory, max(steps)
  if os.path.isdir(os.path.join(path, "model")) and os.path.basename(path).isdigit():
    return os.path.dirname(path), int(os.path.basename(path))
  raise FileNotFoundError(f"no {which} checkpoint under {path} (expected a workdir, its "
                          f"checkpoints/{which} directory, or a checkpoint step directory)")


def _listdir(directory: str) -> list[str]:
  return os.listdir(directory) if os.path.isdir(directory) else []


def _restore_items(directory: str, step: int, **items):
  """Reads some items of one step directory (no manager: nothing is created or cleaned)."""
  checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
  return checkpointer.restore(os.path.join(directory, str(step)), args=ocp.args.Composite(**items))


def read_model_record(directory: str, step: int) -> dict:
  return dict(_restore_items(directory, step, model=ocp.args.JsonRestore()).model)


def read_params(directory: str, step: int, params_template) -> Any:
  """Parameters onto this process's first device, whatever mesh they were saved from."""
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  template = jax.tree.map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=device), params_template)
  return _restore_items(directory, step, params=ocp.args.StandardRestore(template)).params
