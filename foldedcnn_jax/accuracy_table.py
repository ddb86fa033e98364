"""The accuracy table: train every (task, fold, seed) of a budget, then one CSV and one Markdown.

Each run trains into its own workdir and resumes from it, so a table is built across several
sittings: run the same command again and finished runs are only read back. The CSV and the
Markdown are rewritten (atomically) after every run, so a partial table is always on disk.
The paper's figures (appendix) sit beside the measured ones where it gives them.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence

from foldedcnn_jax.data.common import TRAIN_GROUPINGS
from foldedcnn_jax.files import atomic_path

# Test accuracy in percent from the paper's appendix, by (task, fold).
PAPER_TEST_ACCURACY = {
    ("v5", 1): 93.95, ("v5", 2): 92.50, ("v5", 3): 90.78, ("v5", 4): 87.51,
    ("v6", 1): 89.71, ("v6", 2): 88.03, ("v6", 3): 85.48, ("v6", 4): 84.92,
}
# Accuracy drop in points against f = 1 where the paper gives only the drop.
PAPER_DROP = {("n2", 4): 0.21}


@dataclasses.dataclass
class AccuracyRow:
  """One trained (task, fold, seed): accuracies of its best-validation epoch."""

  task: str
  fold: int
  seed: int
  train_grouping: str  # how training formed folded groups (config.data.train_grouping)
  status: str  # "done" (all epochs), "partial" (stopped early, resumable) or "failed: ..."
  epochs: int  # epochs trained so far
  num_epochs: int  # epochs the budget asks for
  warm_start_epochs: int  # epochs of a folded run's slot model before its own (0: none)
  best_epoch: int
  data_scale: float
  val_accuracy: float
  test_accuracy: float
  test_images: int
  test_interval: float  # half-width of the 95% Wilson interval of test_accuracy
  # Folded NoScope models: test accuracy when consecutive frames are folded together (a stream)
  # and when frame t of f equal segments are (strided); NaN elsewhere.
  test_accuracy_stream: float
  test_accuracy_strided: float
  drop_vs_f1: float  # points: f = 1 test accuracy minus this one's (same task and seed)
  paper_test_accuracy: float  # percent, NaN where the paper gives none
  paper_drop: float  # points, NaN where the paper gives none
  wall_seconds: float  # training + evaluation time summed over all sittings
  workdir: str
  # How a folded model was trained (configs/accuracy.py FOLDED_RECIPES; "embedded": its slot
  # model copied into every slot, no folded epochs) and the epochs its distillation teacher
  # trained (0: none), so a row states every epoch it spent.
  recipe: str = "embedded"
  teacher_epochs: int = 0
  # The narrow twin (models/slots.slot_spec: the slot model run alone, unfolded) trained for as
  # many epochs as the folded model in all: its test accuracy and epochs (NaN / 0 at f = 1).
  twin_test_accuracy: float = math.nan
  twin_epochs: int = 0
  # Whether the folded model uses its connections between slots: its test accuracy with those
  # weights set to zero, and their share of its kernels' squared weight norm (NaN at f = 1).
  cross_slot_ablated_test_accuracy: float = math.nan
  cross_slot_weight_share: float = math.nan

  @classmethod
  def columns(cls) -> list[str]:
    return [field.name for field in dataclasses.fields(cls)]


@dataclasses.dataclass(frozen=True)
class Run:
  """One cell of the table: what to train and how to read it back."""

  task: str
  fold: int
  seed: int
  config: object  # the run's ml_collections config (workdir set)
  recipe: str = "embedded"
  # The narrow twin's own run when it is not the folded run's warm start (which serves as the
  # twin when no folded epochs follow it); None at f = 1 or then.
  twin_config: object = None


def wilson_half_width(accuracy: float, count: int, z: float = 1.96) -> float:
  """Half-width of the Wilson score interval for a proportion measured on `count` images."""
  if count <= 0 or not math.isfinite(accuracy):
    return math.nan
  denominator = 1 + z * z / count
  spread = z * math.sqrt(accuracy * (1 - accuracy) / count + z * z / (4 * count * count))
  return spread / denominator


def _paper_drop(task: str, fold: int) -> float:
  if (task, fold) in PAPER_DROP:
    return PAPER_DROP[(task, fold)]
  if (task, fold) in PAPER_TEST_ACCURACY and fold > 1:
    return PAPER_TEST_ACCURACY[(task, 1)] - PAPER_TEST_ACCURACY[(task, fold)]
  return math.nan


def twin_config(run_config) -> object | None:
  """The narrow twin of a folded run (a train.recipe.SlotModelRun), trained alone for as many
  epochs as the folded model in all (slot + folded epochs), in `twin_e<epochs>` inside the
  cell's workdir (so each cell, whatever its recipe or grouping, has its own); None at f = 1 or
  when the run's own warm start is that twin."""
  from foldedcnn_jax.train import config as config_lib
  from foldedcnn_jax.train import recipe

  if run_config.fold == 1:
    return None
  epochs = config_lib.run_epochs(run_config)
  if config_lib.warm_starts(run_config):
    if epochs == 0:
      return None
    epochs += config_lib.slot_epochs(run_config)
  workdir = os.path.join(run_config.workdir, f"twin_e{epochs}")
  return recipe.slot_model_run(run_config, workdir, num_epochs=epochs)


def _best_record(records: list[dict]) -> dict:
  """The first record with the highest validation accuracy (the run's best epoch)."""
  best = {}
  for record in records:
    if record["val_accuracy"] > best.get("val_accuracy", -1.0):
      best = record
  return best


def read_row(run: Run, summary: dict, test_images: int, status: str,
             twin_summary: dict | None = None) -> AccuracyRow:
  """The table row of a trained run from `train_and_evaluate`'s summary and its metrics (and,
  for a folded run with folded epochs, its narrow twin's summary)."""
  from foldedcnn_jax.train import metrics as metrics_lib
  from foldedcnn_jax.train.config import SLOT_WORKDIR

  records = metrics_lib.read_metrics(summary["workdir"])
  slot_run = os.path.join(summary["workdir"], SLOT_WORKDIR)
  warm_start = metrics_lib.read_metrics(slot_run) if os.path.isdir(slot_run) else []
  wall = sum(record.get("epoch_seconds", 0.0) + record.get("eval_seconds", 0.0)
             for record in records + warm_start)
  test = summary.get("test_accuracy_at_best")
  test = math.nan if test is None else float(test)
  best = next((r for r in records if r["epoch"] == summary["best_epoch"]), {})
  twin_test, twin_epochs = math.nan, 0
  if twin_summary is not None:
    twin_test = float(twin_summary.get("test_accuracy_at_best") or math.nan)
    twin_epochs = int(twin_summary["epochs"])
  elif run.fold > 1 and warm_start:
    twin_test = float(_best_record(warm_start).get("test_accuracy", math.nan))
    twin_epochs = len(warm_start)
  teacher = run.config.distillation.teacher
  teacher_epochs = len(metrics_lib.read_metrics(teacher)) if teacher else 0
  return AccuracyRow(
      task=run.task, fold=run.fold, seed=run.seed,
      train_grouping=str(run.config.data.train_grouping), status=status,
      epochs=int(summary["epochs"]), num_epochs=int(summary["num_epochs"]),
      warm_start_epochs=len(warm_start),
      best_epoch=int(summary["best_epoch"]), data_scale=float(run.config.data.scale),
      val_accuracy=float(summary["best_val_accuracy"]), test_accuracy=test,
      test_images=test_images, test_interval=wilson_half_width(test, test_images),
      test_accuracy_stream=float(best.get("test_accuracy_stream", math.nan)),
      test_accuracy_strided=float(best.get("test_accuracy_strided", math.nan)),
      drop_vs_f1=math.nan, paper_test_accuracy=PAPER_TEST_ACCURACY.get((run.task, run.fold),
                                                                        math.nan),
      paper_drop=_paper_drop(run.task, run.fold), wall_seconds=wall,
      workdir=summary["workdir"], recipe=run.recipe, teacher_epochs=teacher_epochs,
      twin_test_accuracy=twin_test, twin_epochs=twin_epochs,
      cross_slot_ablated_test_accuracy=float(best.get("test_accuracy_cross_slot_ablated",
                                                       math.nan)),
      cross_slot_weight_share=float(best.get("cross_slot_weight_share", math.nan)))


def failed_row(run: Run, error: BaseException) -> AccuracyRow:
  nan = math.nan
  return AccuracyRow(run.task, run.fold, run.seed, str(run.config.data.train_grouping),
                     f"failed: {error}".splitlines()[0], 0,
                     int(run.config.num_epochs), 0, 0, float(run.config.data.scale), nan, nan, 0,
                     nan, nan, nan, nan, PAPER_TEST_ACCURACY.get((run.task, run.fold), nan),
                     _paper_drop(run.task, run.fold), 0.0, str(run.config.workdir),
                     recipe=run.recipe)


def add_drops(rows: Sequence[AccuracyRow]) -> None:
  """Fills drop_vs_f1 (points) from the f = 1 row of the same task and seed."""
  originals = {(row.task, row.seed): row.test_accuracy for row in rows
               if row.fold == 1 and row.train_grouping == "independent" and
               row.recipe == "embedded"}
  for row in rows:
    original = originals.get((row.task, row.seed), math.nan)
    row.drop_vs_f1 = 100 * (original - row.test_accuracy)


def write_csv(rows: Sequence[AccuracyRow], path: str) -> None:
  with atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
    writer = csv.DictWriter(file, fieldnames=AccuracyRow.columns())
    writer.writeheader()
    for row in rows:
      writer.writerow(dataclasses.asdict(row))


def read_csv(path: str) -> list[AccuracyRow]:
  types = {field.name: field.type for field in dataclasses.fields(AccuracyRow)}
  convert = {"int": int, "float": float, "str": str}
  # A table written before a column existed.
  defaults = {"train_grouping": "independent", "recipe": "embedded", "teacher_epochs": "0",
              "twin_test_accuracy": "nan", "twin_epochs": "0",
              "cross_slot_ablated_test_accuracy": "nan", "cross_slot_weight_share": "nan"}
  with open(path, newline="") as file:
    reader = csv.DictReader(file)
    rows = [AccuracyRow(**{key: convert[types[key]](value)
                           for key, value in {**defaults, **line}.items()})
            for line in reader]
  for row in rows:
    _embedded_twin_columns(row)
  return rows


def _embedded_twin_columns(row: AccuracyRow) -> None:
  """A row written without its twin columns (before they existed): a warm-started folded model
  with no folded epochs is its slot model in every slot, exactly (models/slots.embed_slots;
  tests/test_slots.py), so its twin's accuracy is its own, its twin trained its slot epochs, and
  it has no weights between slots."""
  if not (row.fold > 1 and row.warm_start_epochs and row.epochs == 0 and row.status == "done"):
    return
  if math.isnan(row.twin_test_accuracy):
    row.twin_test_accuracy, row.twin_epochs = row.test_accuracy, row.warm_start_epochs
  if math.isnan(row.cross_slot_weight_share):
    row.cross_slot_ablated_test_accuracy, row.cross_slot_weight_share = row.test_accuracy, 0.0


def row_key(row: AccuracyRow) -> tuple[str, int, int, str, str]:
  return (row.task, row.fold, row.seed, row.train_grouping, row.recipe)


def merge_rows(kept: Sequence[AccuracyRow], new: Sequence[AccuracyRow]) -> list[AccuracyRow]:
  """`kept` with each row that `new` measured again replaced, then `new`'s other rows; grouped
  by task in order of first appearance, then fold, seed and training grouping."""
  replaced = {row_key(row): row for row in new}
  rows = [replaced.pop(row_key(row), row) for row in kept] + list(replaced.values())
  tasks = list(dict.fromkeys(row.task for row in rows))
  groupings = list(TRAIN_GROUPINGS)
  return sorted(rows, key=lambda row: (tasks.index(row.task), row.fold, row.seed,
                                       groupings.index(row.train_grouping)
                                       if row.train_grouping in groupings else len(groupings),
                                       row.recipe != "embedded", row.recipe))


def _points(value: float, signed: bool = False) -> str:
  if not math.isfinite(value):
    return "–"
  return f"{value:+.2f}" if signed else f"{value:.2f}"


def markdown(rows: Sequence[AccuracyRow], title: str, command: str) -> str:
  """The table as Markdown: accuracies in percent, drops in points, the paper's alongside."""
  lines = [
      f"# {title}", "", f"`{command}`", "",
      "Accuracies in percent at the best-validation epoch; ± is the 95% Wilson interval of the "
      "test accuracy on its test images; drop = f = 1 test minus this test, in points (negative: "
      "better than f = 1). Paper: the appendix's test accuracy or drop where it gives one. "
      "Val and test are grouped as the authors do (a fixed permutation, seed 19, before folding); "
      "for folded NoScope models, stream = test with consecutive frames folded together (what a "
      "video filter folds) and strided = frame t of f equal segments folded together. "
      "Epochs: a+b = a epochs of the slot model (the warm start, embedded into every slot as "
      "the folded run's epoch 0) before b folded ones; compare them with the f = 1 row's epochs "
      "to see the budgets a drop compares. "
      "Minutes include a folded run's warm start. Training groups: how a folded run's training "
      "batches formed their groups of f: independent images (the paper), consecutive records (f "
      "consecutive frames, as a stream filter folds them) or a mix of both. "
      "Recipe: how a folded model trained (configs/accuracy.py FOLDED_RECIPES; embedded = its "
      "slot model copied block-diagonally into every slot, f independent copies of the narrow "
      "twin). Twin: the narrow twin (the slot model run alone, unfolded) trained as many epochs "
      "as the folded model in all, its test accuracy; twin ep.: its epochs; teacher ep.: epochs "
      "of a distillation teacher. No cross-slot: the folded model's test accuracy with its "
      "weights between slots set to zero; cross-slot share: those weights' share of its "
      "squared weight norm (0: block-diagonal).", "",
      "| task | f | seed | training groups | recipe | test | ± | val | drop | twin | twin ep. "
      "| no cross-slot | cross-slot share | stream | strided | paper test | paper drop | epochs "
      "| teacher ep. | scale | test images | minutes | status |",
      "|" + "---|" * 23,
  ]
  for row in rows:
    lines.append(
        f"| {row.task} | {row.fold} | {row.seed} | {row.train_grouping} | {row.recipe} "
        f"| {_points(100 * row.test_accuracy)} "
        f"| {_points(100 * row.test_interval)} | {_points(100 * row.val_accuracy)} "
        f"| {_points(row.drop_vs_f1, signed=True)} | {_points(100 * row.twin_test_accuracy)} "
        f"| {row.twin_epochs or '–'} | {_points(100 * row.cross_slot_ablated_test_accuracy)} "
        f"| {_share(row.cross_slot_weight_share)} "
        f"| {_points(100 * row.test_accuracy_stream)} "
        f"| {_points(100 * row.test_accuracy_strided)} | {_points(row.paper_test_accuracy)} "
        f"| {_points(row.paper_drop, signed=True)} | {_epochs(row)} "
        f"| {row.teacher_epochs or '–'} "
        f"| {row.data_scale:g} | {row.test_images} | {row.wall_seconds / 60:.1f} "
        f"| {row.status} |")
  total = sum(row.wall_seconds for row in rows) / 60
  lines += ["", f"{len(rows)} runs, {total:.1f} minutes of training and evaluation in all."]
  return "\n".join(lines) + "\n"


def _share(value: float) -> str:
  return f"{value:.3f}" if math.isfinite(value) else "–"


def _epochs(row: AccuracyRow) -> str:
  """"12/12", or "24+4/4" for a folded run whose slot model trained 24 epochs first."""
  slot = f"{row.warm_start_epochs}+" if row.warm_start_epochs else ""
  return f"{slot}{row.epochs}/{row.num_epochs}"


def write_markdown(rows: Sequence[AccuracyRow], path: str, title: str, command: str) -> None:
  with atomic_path(path) as temporary, open(temporary, "w") as file:
    file.write(markdown(rows, title, command))


def build_table(runs: Sequence[Run], *, out_csv: str, out_md: str, title: str, command: str,
                train: Callable[[object], dict], test_images: Callable[[object], int],
                deadline_seconds: float = math.inf,
                progress: Callable[[str], None] = print) -> list[AccuracyRow]:
  """Trains (or resumes) each run in order and rewrites the table after every one.

  `train(config)` trains a run to completion (resuming from its workdir) and returns its summary;
  `test_images(config)` counts its test split. Rows already in `out_csv` that these runs do not
  measure stay in the table, so a subset (`--config.tasks=n2 --config.folds=4`) updates its
  cells without dropping the others. Once `deadline_seconds` have passed, the remaining runs are
  not started (run the command again to go on); a run that fails is recorded as failed and the
  table goes on. Returns the rows of `runs`.
  """
  kept = read_csv(out_csv) if os.path.exists(out_csv) else []
  started = time.monotonic()
  rows: list[AccuracyRow] = []
  for index, run in enumerate(runs, 1):
    if time.monotonic() - started > deadline_seconds:
      progress(f"deadline reached: {len(runs) - index + 1} runs left; run again to go on")
      break
    grouping = run.config.data.train_grouping
    progress(f"[{index}/{len(runs)}] {run.task} f={run.fold} seed={run.seed}"
             f"{'' if grouping == 'independent' else ' ' + grouping + ' groups'} → "
             f"{run.config.workdir}")
    try:
      summary = train(run.config)
      twin = train(run.twin_config) if run.twin_config is not None else None
      done = summary["epochs"] >= summary["num_epochs"] and (
          twin is None or twin["epochs"] >= twin["num_epochs"])
      row = read_row(run, summary, test_images(run.config), "done" if done else "partial", twin)
    except Exception as error:  # noqa: BLE001 - one failed cell must not stop the table
      row = failed_row(run, error)
    rows.append(row)
    table = merge_rows(kept, rows)
    add_drops(table)
    os.makedirs(os.path.dirname(os.path.abspath(out_csv)), exist_ok=True)
    write_csv(table, out_csv)
    write_markdown(table, out_md, title, command)
    progress(f"  {row.status}: test {_points(100 * row.test_accuracy)} "
             f"± {_points(100 * row.test_interval)}, val {_points(100 * row.val_accuracy)}, "
             f"drop {_points(row.drop_vs_f1, signed=True)} pt")
  return rows
