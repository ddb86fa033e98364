"""A saved run's config against the one resuming it: which fields may differ.

A workdir keeps the config it was started with (`config.json`); a resumed run must train the
same thing, so `changed_fields` lists every difference that matters, knowing the fields that may
change between sessions, those a run saved before they existed ran without, those since removed,
and those an f = 1 run never reads.
"""

from __future__ import annotations

import json

# Fields that may change when a run is resumed; anything else must match the saved config.
RESUMABLE_FIELDS = (
    "num_epochs", "variant", "progress", "tensorboard", "workdir", "data.worker_count",
    "data.data_dir", "distributed", "steps_per_call", "profile_epoch", "data.engine",
    "data.device_budget_mb", "checkpoint.every_epochs", "checkpoint.keep",
    "model.compiler_options",  # how steps are compiled, not what is trained
    "warm_start.folded_epochs")  # a folded run's num_epochs (neither matters to an f = 1 run)
# Fields only a folded run reads, at their configs/base.py defaults (the values that leave a run
# unfolded): a folded run's slot model is built with them (train/recipe.slot_model_run), and a
# saved f = 1 run resumes whatever they hold, so a recipe change for folded runs leaves finished
# f = 1 runs usable (`changed_fields`).
FOLDED_ONLY_FIELDS = {
    "warm_start.slot_epochs": 0, "warm_start.learning_rate": 0.0,
    "warm_start.folded_learning_rate": 0.0, "warm_start.folded_epochs": -1,
    "warm_start.zero_init_head": False, "warm_start.cross_slot_init": 0.0,
    "data.input_repetition": 0.0, "data.input_repetition_epochs": 0, "data.batch_repetition": 1,
    "optimizer.cross_slot_lr_scale": 1.0, "optimizer.tie_slots": False,
    "model.cross_slot_init": 1.0, "model.slot_init": "folded"}
# Fields added after runs were saved without them: a saved config that lacks one ran as this
# value does, so resuming it with this value is the same run (a folded-only field that did not
# exist yet was at its unfolded value).
LATER_FIELDS = {"optimizer.ema_decay": 0.0, "model.zero_init_head": False, **FOLDED_ONLY_FIELDS}
# Fields that runs saved before their removal hold: ignored when such a run is resumed.
# (model.slots_of_fold marked the warm start's slot run, which now gets its spec from the recipe.)
REMOVED_FIELDS = ("model.slots_of_fold",)


def config_to_dict(config) -> dict:
  """A plain, JSON-serialisable dict of a ConfigDict."""
  return json.loads(config.to_json_best_effort(sort_keys=True))


def _flatten(tree: dict, prefix: str = "") -> dict:
  flat = {}
  for key, value in tree.items():
    path = f"{prefix}{key}"
    if isinstance(value, dict):
      flat.update(_flatten(value, path + "."))
    else:
      flat[path] = value
  return flat


def changed_fields(saved: dict, current: dict) -> list[str]:
  """Fields that differ between a saved and a current config, ignoring the resumable and the
  removed ones and, between two f = 1 runs, the fields such a run never reads."""
  old = {path: value for path, value in {**LATER_FIELDS, **_flatten(saved)}.items()
         if path not in REMOVED_FIELDS}
  new = _flatten(current)
  unused = tuple(FOLDED_ONLY_FIELDS) if old.get("fold") == new.get("fold") == 1 else ()
  ignored = lambda path: any(path == f or path.startswith(f + ".")
                             for f in RESUMABLE_FIELDS + unused)
  return sorted(path for path in set(old) | set(new)
                if not ignored(path) and old.get(path) != new.get(path))
