"""The accuracy table: every task (v1..v6, n1..n4) at f = 1, 2, 3, 4 under one training budget.

  python -m experiments.reproduce_accuracy --budget=cpu
  python -m experiments.reproduce_accuracy --config=configs/accuracy.py:cpu [--config.seeds=0,1]

writes results/accuracy/<budget>.csv and results/accuracy/<budget>.md. Every run trains into
runs/accuracy/<budget>/<task>/f<fold>_s<seed> and resumes from there, so the same command run
again goes on where it stopped (`--config.deadline_minutes` stops starting new runs after that
long). Budgets:

  cpu    the whole table in about 2-3 hours on a 2-core CPU: each task's `:quick` variant, the
         practical recipe on a scaled-down train split (val and test keep the paper's size),
         trained 2 × + 4 of the variant's epochs (28 for a game task, 12 for n1-n3, 20 for n4);
         a folded run is its slot model, trained as many epochs, embedded into every slot (no
         folded epochs follow: the practical recipe's warm start). A cell is thus
           python -m experiments.train --config=configs/v5.py:quick --config.num_epochs=28
           python -m experiments.train --config=configs/v5.py:quick --config.fold=4 \
               --config.warm_start.slot_epochs=28
         (each task's config gives its commands and results; history: results/recipes.md)
  gpu    the practical recipes (configs/<task>.py) on the full train split
  paper  the authors' recipes, configs/<task>.py:paper (1500 epochs for game tasks, 50 for NoScope)
  tiny   the test-only task, two epochs: a smoke test of the command itself
"""

from __future__ import annotations

import ml_collections

from configs import n1, n2, n3, n4, tiny, v1, v2, v3, v4, v5, v6
from foldedcnn_jax.data.common import TRAIN_GROUPINGS
from foldedcnn_jax.tasks import get_task

TASK_CONFIGS = {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6,
                "n1": n1, "n2": n2, "n3": n3, "n4": n4, "tiny": tiny}
GAME_TASKS = ("v1", "v2", "v3", "v4", "v5", "v6")
NOSCOPE_TASKS = ("n1", "n2", "n3", "n4")

# Per budget: the tasks, per family the task config's variant and field overrides (dotted paths),
# and the overrides of folded (f > 1) runs; a callable value is computed from the run's config
# before the folded overrides ("unfolded": the same for f = 1 runs). The cpu budget trains each
# task's `:quick` variant 2 × + 4 of its epochs (the slot model is narrower and learns more
# slowly), a folded run as its slot model alone, so every drop compares equal epoch budgets
# (results/recipes.md § configs/accuracy.py).
_BUDGETS = {
    "cpu": dict(
        tasks=GAME_TASKS + NOSCOPE_TASKS,
        game=("quick", {}),
        noscope=("quick", {}),
        folded={"warm_start.slot_epochs": lambda run: 2 * run.num_epochs + 4},
        unfolded={"num_epochs": lambda run: 2 * run.num_epochs + 4},
    ),
    "gpu": dict(tasks=GAME_TASKS + NOSCOPE_TASKS, game=("", {}), noscope=("", {})),
    "paper": dict(tasks=GAME_TASKS + NOSCOPE_TASKS, game=("paper", {}), noscope=("paper", {})),
    "tiny": dict(tasks=("tiny",), toy=("quick", {"num_epochs": 2, "progress": False})),
}


# How a folded (f > 1) cell trains, beyond its budget's settings (`config.recipes`; each recipe
# other than "embedded" trains into f<fold>_s<seed>_<recipe>; a callable value is computed from
# the run's config, its workdir set). "embedded" is the budget's own: for cpu and gpu, the slot
# model copied into every slot with no folded epochs (f independent narrow twins).
FOLDED_RECIPES = {
    "embedded": {},
    # 6 folded epochs at 1e-4 after the embedding, the weights between slots starting at 0.1 x
    # their random init and learning at 0.1 x the rate: the best on validation of the folded
    # phases tried on v5 f = 4 (results/twins.md), none of which beat the embedded model.
    "connected": {"warm_start.folded_epochs": 6, "warm_start.folded_learning_rate": 1e-4,
                  "warm_start.cross_slot_init": 0.1, "optimizer.cross_slot_lr_scale": 0.1},
    # The paper's route, no warm start: a folded model trained from a random start for twice the
    # f = 1 cell's epochs, each slot started as its own narrow twin (model.slot_init="twin") and
    # the weights between slots zero and frozen, at the slot phase's learning rate, no class
    # curriculum: the best on validation of the random starts tried on v1 f = 4
    # (results/twins.md § 3; with the folded init, trainable weights between slots or the
    # curriculum it learned more slowly or not at all).
    "random_start": {"num_epochs": lambda run: 2 * run.warm_start.slot_epochs,
                     "warm_start.slot_epochs": 0, "model.slot_init": "twin",
                     "model.cross_slot_init": 0.0, "optimizer.cross_slot_lr_scale": 0.0,
                     "optimizer.learning_rate": lambda run: run.warm_start.learning_rate,
                     "curriculum.mode": "off"},
    # The same random start with its weights tied across slots (optimizer.tie_slots: every
    # weight learns from all f images of a group), with the authors' class curriculum (I and Δ
    # their defaults, a step every 3 epochs). With the weights between slots frozen at zero, as
    # here (the best on validation on v1 f = 4; trained, they held it back), this trains exactly
    # the narrow twin, inside the folded model, at f × its multiply-adds.
    "tied": {"num_epochs": lambda run: 2 * run.warm_start.slot_epochs,
             "warm_start.slot_epochs": 0, "model.slot_init": "twin", "model.cross_slot_init": 0.0,
             "optimizer.cross_slot_lr_scale": 0.0, "optimizer.tie_slots": True,
             "optimizer.learning_rate": lambda run: run.warm_start.learning_rate,
             "curriculum.mode": "on", "curriculum.step_epochs": 3},
}


def get_config(budget: str | None = None) -> ml_collections.ConfigDict:
  budget = budget or "cpu"
  if budget not in _BUDGETS:
    raise ValueError(f"unknown budget {budget!r}; use one of: {', '.join(_BUDGETS)}")
  config = ml_collections.ConfigDict()
  config.budget = budget
  config.tasks = _BUDGETS[budget]["tasks"]
  config.folds = (1, 2, 3, 4) if budget != "tiny" else (1, 2)
  config.seeds = (0,)
  # How folded NoScope runs form training groups (data.train_grouping): every grouping listed
  # adds a row per folded NoScope cell, trained into f<fold>_s<seed>_<grouping> ("independent",
  # the paper's, keeps f<fold>_s<seed>). Game tasks and f = 1 train independent groups only.
  # A folded run that trains no folded epochs (the cpu budget's) forms no groups: its rows
  # match the independent one.
  config.train_groupings = ("independent",)
  # Folded training recipes (FOLDED_RECIPES); each adds a row per folded cell. f = 1 cells train
  # once, whatever the recipes.
  config.recipes = ("embedded",)
  config.runs_dir = f"runs/accuracy/{budget}"
  config.out_dir = "results/accuracy"
  config.deadline_minutes = 0.0  # 0 → no deadline; else start no run after this long
  config.data_dir = ""  # "" → $FOLDEDCNN_DATA_DIR or ./data
  return config


def run_configs(config: ml_collections.ConfigDict) -> list[
    tuple[str, int, int, str, ml_collections.ConfigDict]]:
  """(task, fold, seed, recipe, training config) for every cell of the table, in table order."""
  budget = _BUDGETS[config.budget]
  groupings = _items(config.train_groupings, str)
  unknown = sorted(set(groupings) - set(TRAIN_GROUPINGS))
  if unknown:
    raise ValueError(f"unknown training grouping {unknown[0]!r} in config.train_groupings; "
                     f"use: {', '.join(TRAIN_GROUPINGS)}")
  recipes = _items(config.recipes, str)
  unknown = sorted(set(recipes) - set(FOLDED_RECIPES))
  if unknown:
    raise ValueError(f"unknown recipe {unknown[0]!r} in config.recipes; "
                     f"use: {', '.join(FOLDED_RECIPES)}")
  runs = []
  for task in _items(config.tasks, str):
    if task not in TASK_CONFIGS:
      raise ValueError(f"unknown task {task!r} in config.tasks; known: {', '.join(TASK_CONFIGS)}")
    module = TASK_CONFIGS[task]
    family = get_task(task).family
    variant, overrides = budget[family]
    for fold in _items(config.folds, int):
      for seed in _items(config.seeds, int):
        for grouping, recipe in ((g, r) for g in groupings for r in recipes):
          if grouping != "independent" and (fold == 1 or family != "noscope"):
            continue
          if fold == 1 and recipe != recipes[0]:
            continue
          run = module.get_config(variant or None)
          run.fold = int(fold)
          run.seed = int(seed)
          run.data.data_dir = config.data_dir
          run.data.train_grouping = grouping
          run.update_from_flattened_dict(overrides)
          extra = budget.get("folded" if fold > 1 else "unfolded", {})
          resolved = {path: value(run) if callable(value) else value
                      for path, value in extra.items()}
          run.update_from_flattened_dict(resolved)
          suffix = "" if grouping == "independent" else f"_{grouping}"
          if fold > 1 and recipe != "embedded":
            suffix += f"_{recipe}"
          run.workdir = f"{config.runs_dir}/{task}/f{fold}_s{seed}{suffix}"
          if fold > 1:
            run.update_from_flattened_dict({  # each value computed from the run before any is set
                path: value(run) if callable(value) else value
                for path, value in FOLDED_RECIPES[recipe].items()})
          runs.append((task, int(fold), int(seed), recipe if fold > 1 else "embedded", run))
  return runs


def _items(values, convert) -> list:
  """A tuple field as a list, also when given on the command line as `--config.folds=1,4`."""
  if isinstance(values, str | int):
    values = (values,)
  try:
    return [convert(item) for value in values for item in str(value).split(",") if item.strip()]
  except ValueError:
    raise ValueError(f"cannot read {values!r} as a list of {convert.__name__}") from None
