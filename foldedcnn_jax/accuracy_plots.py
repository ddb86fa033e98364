"""The accuracy-vs-speed figures: each model of the accuracy table (original, narrow twin,
folded models) at its test accuracy against the images/s a benchmark CSV measured for it.

Points come from the table's CSV (`read_accuracy`), their throughput from the benchmark model
each one runs as (`placements`); the figure and the per-task files share the grid and the
device title of the benchmark figures (`plots`).
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import math
import os
from collections.abc import Sequence

from foldedcnn_jax import plots
from foldedcnn_jax.bench.records import BenchRecord
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.tasks import TASKS

# How a (task, f) cell's models are drawn: original (f = 1), the narrow twin, the folded model
# with a twin in each slot (block-diagonal, the "embedded" recipe), a folded model trained on.
ACCURACY_STYLES = {"original": ("black", "*"), "narrow": ("tab:green", "o"),
                   "embedded": ("tab:blue", "s"), "trained": ("tab:red", "D")}
_VARIANT_MARKERS = ("^", "v", "P", "X")  # hollow, for a kind's second, third, ... label
EMBEDDED_RECIPES = ("", "embedded")  # "": a table from before the recipe column (all embedded)


@dataclasses.dataclass(frozen=True)
class AccuracyPoint:
  """One model's test accuracy (percent, over its seeds) for the accuracy-vs-speed figure."""

  task: str
  kind: str  # a key of ACCURACY_STYLES
  fold: int
  label: str
  accuracies: tuple[float, ...]
  # Every weight between slots zero on every seed (an embedded row, or a trained one whose
  # `cross_slot_weight_share` is 0): it runs as the block-diagonal program.
  block_diagonal: bool = False
  # Seeds whose run never left chance (`at_chance`): left out of `accuracies`, named in the label.
  at_chance: int = 0

  @property
  def mean(self) -> float:
    return sum(self.accuracies) / len(self.accuracies)


def _percent(value: float) -> float:
  """Percent from a fraction (the table's test_accuracy) or a percentage (> 1) alike."""
  return value * 100 if value <= 1 else value


def at_chance(task: str, percent: float) -> bool:
  """Whether a test accuracy got less than a tenth of the way from chance (100 / K, a known
  task's K classes) to 100 %: a run that never left the loss plateau, drawn apart so that it
  does not hide the other seeds."""
  if task not in TASKS:
    return False
  chance = 100 / TASKS[task].num_classes
  return percent < chance + 0.1 * (100 - chance)


def read_accuracy(path: str) -> list[AccuracyPoint]:
  """The accuracy table's finished rows as points: original, narrow twin, embedded, trained.

  Optional columns: `recipe` ("embedded" = the twin written block-diagonally, no folded
  epochs; absent: every folded row is), `twin_test_accuracy` (absent: an embedded row's own
  test accuracy is its twin's, being the same function), `twin_epochs` (the twin's budget: one
  narrow point per budget), `cross_slot_weight_share` (0: a trained model that stayed
  block-diagonal). A seed at chance (`at_chance`) is counted, not averaged.
  """
  if not os.path.isfile(path):
    raise UserInputError(f"no accuracy CSV at {path}")
  cells: dict[tuple, list[float]] = collections.defaultdict(list)
  block_diagonal: dict[tuple, bool] = collections.defaultdict(lambda: True)
  with open(path, newline="") as file:
    for row in csv.DictReader(file):
      if row.get("status", "done") != "done":
        continue
      task, fold, recipe = row["task"], int(row["fold"]), row.get("recipe", "")
      test = _percent(float(row["test_accuracy"]))
      if fold == 1:
        cells[(task, "original", 1, "original")].append(test)
        continue
      twin = float(row.get("twin_test_accuracy") or "nan")
      if recipe in EMBEDDED_RECIPES:
        cells[(task, "embedded", fold, "block-diagonal")].append(test)
        twin = test if math.isnan(twin) else twin
      else:
        key = (task, "trained", fold, f"folded ({recipe})")
        cells[key].append(test)
        share = float(row.get("cross_slot_weight_share") or "nan")
        block_diagonal[key] &= share == 0.0
      if not math.isnan(twin):  # twins of different budgets (twin_epochs) are points apart
        epochs = row.get("twin_epochs") or ""
        label = f"narrow twin ({epochs} epochs)" if epochs else "narrow twin"
        cells[(task, "narrow", fold, label)].append(_percent(twin))
  points = []
  for key, values in cells.items():
    task, kind, fold, label = key
    kept = tuple(value for value in values if not at_chance(task, value))
    failed = len(values) - len(kept)
    if failed:
      label += f" ({failed} of {len(values)} seeds at chance)"
    points.append(AccuracyPoint(task, kind, fold, label, kept or tuple(values),
                                kind in ("embedded", "trained") and block_diagonal[key], failed))
  return points


# Throughput of each kind of point: the benchmark model it runs as, the first one measured. A
# block-diagonal folded model (embedded, or trained with its weights between slots left at
# zero) runs as the embedded program; without such a row, as fast as the folded one (the same
# program with zeros in it).
_BENCH_MODELS = {"original": ("folded",), "narrow": ("narrow",),
                 "block-diagonal": ("embedded", "folded"), "trained": ("folded",)}


def _rates(records: Sequence[BenchRecord]) -> dict[tuple[str, str, int], float]:
  """Images/s by (task, benchmark model, f) at the figure's batch size."""
  batch = plots.default_batch(records)
  return {(r.task, r.model, r.fold): r.images_per_second_median for r in records
          if r.batch_images == batch and r.width_rounding == 1}


def placements(records: Sequence[BenchRecord], points: Sequence[AccuracyPoint],
               tasks: Sequence[str] | None = None) -> list[tuple[str, list]]:
  """(task, [(point, images/s)]) for each task (default: the points' tasks) with at least
  one point that the benchmark rows give a rate."""
  rates, placed = _rates(records), []
  for task in tasks or plots.ordered(p.task for p in points):
    models = lambda p: _BENCH_MODELS["block-diagonal" if p.block_diagonal else p.kind]
    task_points = [(p, rate) for p in points if p.task == task and (rate := next(
        (rates[(task, model, p.fold)] for model in models(p)
         if (task, model, p.fold) in rates), None)) is not None]
    if task_points:
      placed.append((task, task_points))
  return placed


def accuracy_vs_throughput(records: Sequence[BenchRecord], points: Sequence[AccuracyPoint],
                           path: str, tasks: Sequence[str] | None = None) -> list[str]:
  """Test accuracy against images/s, a panel per task (one batch size, the default path's rows).

  The compound baseline has no accuracy: a dashed vertical line at its images/s. Returns the
  tasks drawn (those with both accuracies and throughput).
  """
  rates, drawn = _rates(records), placements(records, points, tasks)
  if not drawn:
    raise UserInputError("no task has both test accuracies and benchmark rows to plot")
  figure, axes = plots.task_grid(len(drawn), 4.2, 3.4)
  for axis, (task, placed) in zip(axes, drawn, strict=True):
    labelled, kind_labels = set(), collections.defaultdict(list)
    for point, rate in placed:
      color, marker = ACCURACY_STYLES[point.kind]
      labels = kind_labels[point.kind]  # a kind's further labels (budgets, recipes): hollow
      if point.label not in labels:
        labels.append(point.label)
      variant = labels.index(point.label)
      if variant:
        marker = _VARIANT_MARKERS[(variant - 1) % len(_VARIANT_MARKERS)]
      spread = [[point.mean - min(point.accuracies)], [max(point.accuracies) - point.mean]]
      axis.errorbar([rate], [point.mean], yerr=spread, color=color, marker=marker,
                    linestyle="", capsize=2, markerfacecolor="none" if variant else color,
                    label=None if point.label in labelled else point.label)
      labelled.add(point.label)
      axis.annotate(f"f={point.fold}", (rate, point.mean), fontsize=7,
                    textcoords="offset points", xytext=(4, 3))
    if (task, "compound", 1) in rates:
      axis.axvline(rates[(task, "compound", 1)], color="gray", linestyle="--",
                   label="compound (no accuracy)")
    plots.label_axis(axis, task, "images/s", "test accuracy (%)", 6)
  title = (f"Test accuracy vs throughput, batch {plots.default_batch(records)} — "
           f"{plots.device_title(records)}")
  plots.save_grid(figure, title, 9, path)
  return [task for task, _ in drawn]


def accuracy_figures(records: Sequence[BenchRecord], accuracy_csv: str, out_dir: str, *,
                     dtype: str | None = None) -> list[str]:
  """One accuracy_speed_<task>.png per task with accuracies and throughput; the paths."""
  rows, points = plots.select(records, dtype=dtype), read_accuracy(accuracy_csv)
  paths = []
  for task in plots.ordered(p.task for p in points):
    path = os.path.join(out_dir, f"accuracy_speed_{task}.png")
    try:
      accuracy_vs_throughput(rows, points, path, [task])
    except UserInputError:
      continue  # no benchmark rows for this task
    paths.append(path)
  return paths


