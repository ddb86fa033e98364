"""orbax checkpoints of a run: one `CheckpointManager` over `workdir/checkpoints/<epoch>/`.

Each checkpoint (named by the epochs completed) holds the items "params" (the model: the
moving average of the parameters when the run keeps one), "train_state" (the optimizer state,
the step, which lives only there, and the trained parameters under an average), "meta" (epoch,
validation accuracy, whether it was the best so far) and "model" (the config, task and model
spec), so a checkpoint directory alone rebuilds the model (see foldedcnn_jax/predict.py). The
manager tracks the best checkpoint itself (`best_fn` over each step's metrics: validation accuracy,
the earlier epoch on a tie) and its preservation policy keeps the latest `keep` checkpoints and
that best one. A latest checkpoint that cannot be read is reported, moved to `workdir/corrupt/`,
and the previous one is used. Steps saved before the manager tracked metrics (no "metrics" item)
are never deleted, and their workdir's best is the last step whose meta says it was the best.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from absl import logging

from foldedcnn_jax.models import spec as spec_lib
from foldedcnn_jax.train import steps as steps_lib

LATEST, BEST = "latest", "best"


def abstract(tree):
  """Shape/dtype/sharding template of a pytree of arrays, for restoring into."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def model_record(settings, config_dict: dict) -> dict:
  """What `spec_from_record` needs to rebuild the model, plus the task's class names."""
  return {
      **dataclasses.asdict(settings.spec), "input_shape": list(settings.spec.input_shape),
      "task": settings.task.id, "class_names": list(settings.task.class_names),
      "param_dtype": config_dict["model"]["param_dtype"], "dtype": config_dict["model"]["dtype"],
      "config": config_dict,
  }


def spec_from_record(record: dict) -> spec_lib.ModelSpec:
  names = {field.name for field in dataclasses.fields(spec_lib.ModelSpec)}
  fields = {key: value for key, value in record.items() if key in names}
  return spec_lib.ModelSpec(**{**fields, "input_shape": tuple(record["input_shape"])})


def _train_state(state: dict) -> dict:
  """The "train_state" item: what only resuming needs (the step lives only here), with the
  trained parameters when "params" holds their moving average."""
  item = {"opt_state": state["opt_state"], "step": state["step"]}
  if "ema_params" in state:
    item["trained_params"] = state["params"]
  return item


def _state_from_items(params, train_state: dict) -> dict:
  state = dict(train_state)
  if "trained_params" in state:
    trained = state.pop("trained_params")
    return {**state, "params": trained, "ema_params": params}
  return {"params": params, **state}


def _rank(metrics: dict) -> tuple[float, int]:
  """A step's place in the best-by-validation order: the higher validation accuracy, then the
  earlier epoch (the loop's best is the first epoch that reaches its highest accuracy)."""
  return metrics["val_accuracy"], -metrics["epoch"]


def _options(keep: int | None = None) -> ocp.CheckpointManagerOptions:
  """orbax tracks the best step by `_rank`; with `keep`, a run's policy keeps the latest `keep`
  and the best; without it, a manager that only reads (it never saves, so deletes nothing; not
  orbax's read_only, which logs warnings on every open)."""
  if keep is None:
    return ocp.CheckpointManagerOptions(create=False, best_fn=_rank, best_mode="max")
  policy = ocp.checkpoint_managers.AnyPreservationPolicy([
      ocp.checkpoint_managers.LatestN(n=keep),
      ocp.checkpoint_managers.BestN(get_metric_fn=_rank, n=1,
                                    keep_checkpoints_without_metrics=True)])
  return ocp.CheckpointManagerOptions(
      best_fn=_rank, best_mode="max", keep_checkpoints_without_metrics=True,
      preservation_policy=policy, cleanup_tmp_directories=True)


class RunCheckpoints:
  """The CheckpointManager of one workdir: latest `keep` plus the best by validation accuracy."""

  def __init__(self, workdir: str, keep: int):
    self.root = os.path.abspath(os.path.join(workdir, "checkpoints"))
    self.manager = ocp.CheckpointManager(self.root, options=_options(keep))

  def restore_latest(self, state_template: dict) -> tuple[dict, dict] | None:
    """(state, meta) of the newest readable checkpoint, or None if there is none."""
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        restored = self.manager.restore(step, args=ocp.args.Composite(
            params=ocp.args.StandardRestore(abstract(steps_lib.eval_params(state_template))),
            train_state=ocp.args.StandardRestore(abstract(_train_state(state_template))),
            meta=ocp.args.JsonRestore()))
      except Exception as error:  # noqa: BLE001 - any unreadable checkpoint falls back
        self._set_aside(step, error)
        continue
      return _state_from_items(restored.params, dict(restored.train_state)), dict(restored.meta)
    return None

  def _set_aside(self, step: int, error: Exception) -> None:
    source = os.path.join(self.root, str(step))
    target = os.path.join(os.path.dirname(self.root), "corrupt", f"{step}-{int(time.time())}")
    summary = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    logging.warning("checkpoint %s is corrupt or partial (%s); moved to %s, using the previous "
                    "one", source, summary, target)
    print(f"warning: checkpoint {source} is unreadable ({summary[:200]}); "
          f"moved it to {target} and fell back to the previous checkpoint", flush=True)
    if jax.process_index() == 0:
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(str(source), target)
    self.manager.reload()

  def save(self, epoch: int, state: dict, meta: dict, record: dict) -> None:
    """Saves the epoch (asynchronously, from a copy: the next steps update `state` in place)."""
    state = jax.tree.map(jnp.copy, state)
    self.manager.save(epoch, args=ocp.args.Composite(
        params=ocp.args.StandardSave(steps_lib.eval_params(state)),
        train_state=ocp.args.StandardSave(_train_state(state)), meta=ocp.args.JsonSave(meta),
        model=ocp.args.JsonSave(record)),
        metrics={"val_accuracy": meta["val_accuracy"], "epoch": epoch}, force=True)

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def find_checkpoint(path: str, which: str = BEST) -> tuple[str, int]:
  """(checkpoints directory, step) for a workdir, its checkpoints directory, or a step directory.

  `which="latest"` is the newest step; `"best"` the best by validation accuracy.
  """
  if which not in (LATEST, BEST):
    raise ValueError(f"which must be {LATEST!r} or {BEST!r}, got {which!r}")
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"no such workdir or checkpoint directory: {path}")
  for directory in (os.path.join(path, "checkpoints"), path):
    steps = _steps(directory)
    if steps:
      return directory, max(steps) if which == LATEST else _best_step(directory, steps)
  if os.path.isdir(os.path.join(path, "model")) and os.path.basename(path).isdigit():
    return os.path.dirname(path), int(os.path.basename(path))
  raise FileNotFoundError(f"no {which} checkpoint under {path} (expected a workdir, its "
                          f"checkpoints directory, or a checkpoint step directory)")


def _steps(directory: str) -> list[int]:
  return [int(name) for name in _listdir(directory)
          if name.isdigit() and os.path.exists(os.path.join(directory, name, "model"))]


def _best_step(directory: str, steps: list[int]) -> int:
  """orbax's best step; for a workdir with steps saved before it tracked metrics, the last step
  whose meta says it was the best when saved."""
  if any(not os.path.exists(os.path.join(directory, str(step), "metrics")) for step in steps):
    best = [step for step in steps if read_meta(directory, step).get("is_best")]
    return max(best or steps)
  with contextlib.closing(ocp.CheckpointManager(directory, options=_options())) as manager:
    return manager.best_step()


def read_meta(directory: str, step: int) -> dict:
  return dict(_restore_items(directory, step, meta=ocp.args.JsonRestore()).meta)


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


@dataclasses.dataclass(frozen=True)
class TrainedModel:
  """A trained checkpoint's model: its split NNX graph and parameters, spec and record."""

  graphdef: Any
  params: Any
  spec: spec_lib.ModelSpec
  record: dict
  checkpoint: str  # "<checkpoints dir>/<step>"


def read_trained_model(path: str, which: str = BEST) -> TrainedModel:
  """The model of a workdir's best (or latest) checkpoint, or of a checkpoint directory, rebuilt
  from the checkpoint's own record (no config files or data needed)."""
  from flax import nnx

  from foldedcnn_jax.models import cnn

  directory, step = find_checkpoint(path, which)
  record = read_model_record(directory, step)
  spec = spec_from_record(record)
  model = nnx.eval_shape(lambda: cnn.create_model(spec, param_dtype=record["param_dtype"],
                                                  dtype=record["dtype"]))
  graphdef, template = nnx.split(model)
  return TrainedModel(graphdef, read_params(directory, step, template), spec, record,
                      f"{directory}/{step}")
