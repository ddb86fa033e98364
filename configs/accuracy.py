"""The accuracy table: every task (v1..v6, n1..n4) at f = 1, 2, 3, 4 under one training budget.

  python -m experiments.reproduce_accuracy --budget=cpu
  python -m experiments.reproduce_accuracy --config=configs/accuracy.py:cpu [--config.seeds=0,1]

writes results/accuracy/<budget>.csv and results/accuracy/<budget>.md. Every run trains into
runs/accuracy/<budget>/<task>/f<fold>_s<seed> and resumes from there, so the same command run
again goes on where it stopped (`--config.deadline_minutes` stops starting new runs after that
long). Budgets:

  cpu    the whole table in about 2-3 hours on a 2-core CPU: 12 (game) or 10/8 (NoScope)
         epochs on a scaled-down train split (about 8,000-10,000 game images; n3/n4 every other
         frame) with Adam, warm-up + cosine decay and shift augmentation (NoScope also mirrors);
         val and test keep the paper's size. Folded runs warm-start from their slot model.
  gpu    the same recipes, longer (100 game / 50 NoScope epochs) on the full train split
  paper  the authors' recipes as in configs/<task>.py (1500 epochs for game tasks, 50 for NoScope)
  tiny   the test-only task, two epochs: a smoke test of the command itself
"""

from __future__ import annotations

import ml_collections

from configs import n1, n2, n3, n4, tiny, v1, v2, v3, v4, v5, v6
from foldedcnn_jax.tasks import get_task

TASK_CONFIGS = {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6,
                "n1": n1, "n2": n2, "n3": n3, "n4": n4, "tiny": tiny}
GAME_TASKS = ("v1", "v2", "v3", "v4", "v5", "v6")
NOSCOPE_TASKS = ("n1", "n2", "n3", "n4")

# Per budget: the tasks, then per family the task config's variant and field overrides (dotted
# paths), per task further overrides, and the overrides of folded (f > 1) runs.
_GAME_TRAIN_SCALE = {  # about 8,000-10,000 training images per game task on the cpu budget
    "v1": 0.08, "v2": 0.4, "v3": 0.7, "v4": 0.15, "v5": 0.1, "v6": 0.15}
# Folded runs start from the slot-wise warm start (configs/base.py `warm_start`): the narrow f = 1
# slot model trains for as many epochs as the original, at its learning rate, then f copies of it
# train together, folded, at a tenth of it (v1, v4: without the warm start f = 4 stays at chance).
_CPU_GAME = {"num_epochs": 12, "optimizer.learning_rate": 1e-3, "optimizer.weight_decay": 0.0,
             "optimizer.schedule": "cosine", "optimizer.warmup_fraction": 0.05,
             "augment.shift": 2}
_CPU_NOSCOPE = {"num_epochs": 10, "optimizer.name": "adam", "optimizer.learning_rate": 1e-3,
                "optimizer.schedule": "cosine", "optimizer.warmup_fraction": 0.05,
                "augment.shift": 3, "augment.flip": True}
_BUDGETS = {
    "cpu": dict(
        tasks=GAME_TASKS + NOSCOPE_TASKS,
        game=("", _CPU_GAME),
        noscope=("", _CPU_NOSCOPE),
        per_task={**{task: {"data.scale": scale} for task, scale in _GAME_TRAIN_SCALE.items()},
                  # n3 and n4 train 5-15x slower per image than n1/n2 on the CPU: every other
                  # training frame, 8 epochs.
                  "n3": {"data.scale": 0.5, "num_epochs": 8},
                  "n4": {"data.scale": 0.5, "num_epochs": 8}},
        folded={"warm_start.slot_epochs": "num_epochs", "warm_start.learning_rate":
                "optimizer.learning_rate", "num_epochs": 4, "optimizer.learning_rate": 1e-4},
    ),
    "gpu": dict(
        tasks=GAME_TASKS + NOSCOPE_TASKS,
        game=("", {**_CPU_GAME, "num_epochs": 100}),
        noscope=("", {**_CPU_NOSCOPE, "num_epochs": 50}),
        folded={"warm_start.slot_epochs": "num_epochs", "warm_start.learning_rate":
                "optimizer.learning_rate", "num_epochs": 20, "optimizer.learning_rate": 1e-4},
    ),
    "paper": dict(tasks=GAME_TASKS + NOSCOPE_TASKS, game=("", {}), noscope=("", {})),
    "tiny": dict(tasks=("tiny",), toy=("quick", {"num_epochs": 2, "progress": False})),
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
  config.runs_dir = f"runs/accuracy/{budget}"
  config.out_dir = "results/accuracy"
  config.deadline_minutes = 0.0  # 0 → no deadline; else start no run after this long
  config.data_dir = ""  # "" → $FOLDEDCNN_DATA_DIR or ./data
  return config


def run_configs(config: ml_collections.ConfigDict) -> list[tuple[str, int, int,
                                                                  ml_collections.ConfigDict]]:
  """(task, fold, seed, training config) for every cell of the table, in table order."""
  budget = _BUDGETS[config.budget]
  runs = []
  for task in _items(config.tasks, str):
    if task not in TASK_CONFIGS:
      raise ValueError(f"unknown task {task!r} in config.tasks; known: {', '.join(TASK_CONFIGS)}")
    module = TASK_CONFIGS[task]
    variant, overrides = budget[get_task(task).family]
    for fold in _items(config.folds, int):
      for seed in _items(config.seeds, int):
        run = module.get_config(variant or None)
        run.fold = int(fold)
        run.seed = int(seed)
        run.data.data_dir = config.data_dir
        for path, value in {**overrides, **budget.get("per_task", {}).get(task, {})}.items():
          _set(run, path, value)
        if fold > 1:
          # A string value names another field: its value before the folded overrides.
          folded = budget.get("folded", {})
          resolved = {path: _get(run, value) if isinstance(value, str) else value
                      for path, value in folded.items()}
          for path, value in resolved.items():
            _set(run, path, value)
        run.workdir = f"{config.runs_dir}/{task}/f{fold}_s{seed}"
        runs.append((task, int(fold), int(seed), run))
  return runs


def _items(values, convert) -> list:
  """A tuple field as a list, also when given on the command line as `--config.folds=1,4`."""
  if isinstance(values, str | int):
    values = (values,)
  try:
    return [convert(item) for value in values for item in str(value).split(",") if item.strip()]
  except ValueError:
    raise ValueError(f"cannot read {values!r} as a list of {convert.__name__}") from None


def _get(config: ml_collections.ConfigDict, path: str):
  for name in path.split("."):
    config = config[name]
  return config


def _set(config: ml_collections.ConfigDict, path: str, value) -> None:
  *parents, name = path.split(".")
  for parent in parents:
    config = config[parent]
  config[name] = value
