"""The accuracy table: intervals, drops, the paper's figures, and the command on the tiny task."""

import math
import os
import subprocess
import sys

import ml_collections
import pytest

from configs import accuracy as accuracy_configs
from foldedcnn_jax import accuracy_table, data, train
from foldedcnn_jax.models import ModelSpec, slots
from foldedcnn_jax.train.config import make_run_settings, run_epochs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_wilson_interval_matches_the_textbook_value():
  # 50 of 100: Wilson 95% interval [0.4038, 0.5962].
  assert accuracy_table.wilson_half_width(0.5, 100) == pytest.approx(0.0962, abs=1e-4)
  # 110 images: one image is 0.9 pt, the interval is several points wide.
  assert accuracy_table.wilson_half_width(0.95, 110) > 0.03
  assert math.isnan(accuracy_table.wilson_half_width(0.9, 0))


def test_budgets_cover_every_task_and_fold_with_full_eval_splits():
  config = accuracy_configs.get_config("cpu")
  runs = accuracy_configs.run_configs(config)
  assert {(task, fold) for task, fold, *_ in runs} == {
      (task, fold) for task in ("v1", "v2", "v3", "v4", "v5", "v6", "n1", "n2", "n3", "n4")
      for fold in (1, 2, 3, 4)}
  workdirs = {run.workdir for *_, run in runs}
  assert len(workdirs) == len(runs)  # every cell trains into its own workdir
  for task, fold, seed, recipe, run in runs:
    assert (run.task, run.fold, run.seed, recipe) == (task, fold, seed, "embedded")
  # Equal epoch budgets: a folded run is its slot model, trained as long as f = 1, embedded,
  # with no folded epochs.
  v1 = {fold: run for task, fold, *_, run in runs if task == "v1"}
  assert (v1[4].warm_start.slot_epochs, run_epochs(v1[4])) == (28, 0)
  assert v1[1].num_epochs == run_epochs(v1[1]) == 28
  paper = accuracy_configs.run_configs(accuracy_configs.get_config("paper"))
  assert {run.num_epochs for task, *_, run in paper if task == "v1"} == {1500}
  with pytest.raises(ValueError, match="unknown budget"):
    accuracy_configs.get_config("weekend")


def _tiny_runs(tmp_path):
  config = accuracy_configs.get_config("tiny")
  config.runs_dir, config.data_dir = str(tmp_path / "runs"), str(tmp_path / "data")
  return [accuracy_table.Run(task, fold, seed, run, recipe, accuracy_table.twin_config(run))
          for task, fold, seed, recipe, run in accuracy_configs.run_configs(config)]


def _test_images(run_config):
  return data.num_examples(run_config.task, "test", train.make_run_settings(run_config).source)


def _build(tmp_path, runs, **kwargs):
  lines = []
  rows = accuracy_table.build_table(
      runs, out_csv=str(tmp_path / "out" / "tiny.csv"), out_md=str(tmp_path / "out" / "tiny.md"),
      title="tiny", command="cmd", train=train.train_and_evaluate, test_images=_test_images,
      progress=lines.append, **kwargs)
  return rows, lines


def test_tiny_budget_writes_a_well_formed_table_and_resumes(tmp_path):
  runs = _tiny_runs(tmp_path)
  rows, _ = _build(tmp_path, runs)
  assert [(row.task, row.fold, row.status) for row in rows] == [("tiny", 1, "done"),
                                                                 ("tiny", 2, "done")]
  for row in rows:
    assert row.epochs == row.num_epochs == 2 and 1 <= row.best_epoch <= 2
    assert 0 <= row.test_accuracy <= 1 and row.test_images == 64
    assert row.test_interval == accuracy_table.wilson_half_width(row.test_accuracy, 64)
    assert row.wall_seconds > 0 and os.path.isdir(row.workdir)
  assert rows[0].drop_vs_f1 == 0.0
  # The folded cell trains from a random start, so its narrow twin trains alone as long, inside
  # its workdir; the folded model is dense, and its cross-slot ablation is measured.
  assert math.isnan(rows[0].twin_test_accuracy) and rows[0].twin_epochs == 0
  assert 0 <= rows[1].twin_test_accuracy <= 1 and rows[1].twin_epochs == 2
  assert os.path.isdir(str(tmp_path / "runs" / "tiny" / "f2_s0" / "twin_e2"))
  assert 0 < rows[1].cross_slot_weight_share < 1
  assert 0 <= rows[1].cross_slot_ablated_test_accuracy <= 1
  assert (rows[0].recipe, rows[1].recipe, rows[1].teacher_epochs) == ("embedded", "embedded", 0)
  assert rows[1].drop_vs_f1 == pytest.approx(100 * (rows[0].test_accuracy - rows[1].test_accuracy))
  written = accuracy_table.read_csv(str(tmp_path / "out" / "tiny.csv"))
  assert [(r.task, r.fold, r.test_accuracy, r.val_accuracy) for r in written] == [
      (r.task, r.fold, r.test_accuracy, r.val_accuracy) for r in rows]
  assert written[1].twin_test_accuracy == rows[1].twin_test_accuracy
  markdown = (tmp_path / "out" / "tiny.md").read_text()
  assert markdown.count("\n| tiny |") == 2 and "cmd" in markdown
  # Again: every run is finished, so nothing trains and the table is the same.
  again, _ = _build(tmp_path, runs)
  assert [(r.test_accuracy, r.val_accuracy, r.best_epoch, r.wall_seconds) for r in again] == [
      (r.test_accuracy, r.val_accuracy, r.best_epoch, r.wall_seconds) for r in rows]


def test_deadline_stops_starting_runs_and_a_failed_run_is_recorded(tmp_path):
  runs = _tiny_runs(tmp_path)
  rows, lines = _build(tmp_path, runs, deadline_seconds=-1)
  assert rows == [] and "2 runs left" in lines[-1]

  def broken_train(config):
    raise RuntimeError("out of memory\nsecond line")

  rows = accuracy_table.build_table(
      runs[:1], out_csv=str(tmp_path / "b.csv"), out_md=str(tmp_path / "b.md"), title="t",
      command="c", train=broken_train, test_images=_test_images, progress=lambda line: None)
  assert rows[0].status == "failed: out of memory" and math.isnan(rows[0].test_accuracy)


def test_paper_figures_sit_beside_the_measured_ones():
  assert accuracy_table.PAPER_TEST_ACCURACY[("v5", 4)] == 87.51
  assert accuracy_table._paper_drop("v6", 2) == pytest.approx(89.71 - 88.03)
  assert accuracy_table._paper_drop("n2", 4) == 0.21
  assert math.isnan(accuracy_table._paper_drop("v1", 4))


def test_a_warm_started_row_shows_its_slot_epochs_and_stream_columns():
  row = accuracy_table.AccuracyRow(
      "n2", 4, 0, "consecutive", "done", 4, 4, 20, 3, 1.0, 0.95, 0.94, 3000, 0.008, 0.93, 0.935,
      0.5, math.nan, 0.21, 60.0, "runs/n2")
  line = accuracy_table.markdown([row], "t", "c").splitlines()[-3]
  assert "| 20+4/4 |" in line and "| 93.00 | 93.50 |" in line and "| +0.21 |" in line
  assert line.startswith("| n2 | 4 | 0 | consecutive | embedded | 94.00 |")


def test_training_groupings_add_folded_noscope_rows_in_their_own_workdirs():
  config = accuracy_configs.get_config("cpu")
  config.tasks, config.folds = ("v1", "n2"), (1, 4)
  config.train_groupings = ("independent", "consecutive", "mix")
  runs = accuracy_configs.run_configs(config)
  cells = [(task, fold, run.data.train_grouping, run.workdir) for task, fold, *_, run in runs]
  assert cells == [
      ("v1", 1, "independent", "runs/accuracy/cpu/v1/f1_s0"),
      ("v1", 4, "independent", "runs/accuracy/cpu/v1/f4_s0"),
      ("n2", 1, "independent", "runs/accuracy/cpu/n2/f1_s0"),
      ("n2", 4, "independent", "runs/accuracy/cpu/n2/f4_s0"),
      ("n2", 4, "consecutive", "runs/accuracy/cpu/n2/f4_s0_consecutive"),
      ("n2", 4, "mix", "runs/accuracy/cpu/n2/f4_s0_mix")]
  # The warm start's slot model does not depend on the grouping, so one serves every grouping.
  from foldedcnn_jax.train import recipe
  slots = {recipe.slot_model_run(run, "w").config.to_json() for task, fold, *_, run in runs
           if (task, fold) == ("n2", 4)}
  assert len(slots) == 1
  config.train_groupings = ("independent", "pairs")
  with pytest.raises(ValueError, match="unknown training grouping 'pairs'"):
    accuracy_configs.run_configs(config)


def _row(task, fold, grouping, test):
  return accuracy_table.AccuracyRow(
      task, fold, 0, grouping, "done", 4, 4, 0, 3, 1.0, test, test, 3000, 0.01, math.nan,
      math.nan, math.nan, math.nan, math.nan, 60.0, f"runs/{task}/{fold}{grouping}")


def test_a_subset_updates_its_cells_and_keeps_the_others(tmp_path, monkeypatch):
  kept = [_row("v1", 1, "independent", 0.97), _row("n2", 1, "independent", 0.95),
          _row("n2", 4, "independent", 0.94), _row("n4", 1, "independent", 0.93)]
  csv_path = tmp_path / "cpu.csv"
  accuracy_table.write_csv(kept, str(csv_path))
  fresh = [_row("n2", 4, "independent", 0.945), _row("n2", 4, "consecutive", 0.93)]
  # Training is not what this test is about: each run's "summary" carries its finished row.
  monkeypatch.setattr(accuracy_table, "read_row",
                      lambda run, summary, images, status, twin: summary["row"])
  runs = [accuracy_table.Run(row.task, row.fold, row.seed, ml_collections.ConfigDict(
      {"num_epochs": 4, "workdir": row.workdir, "data": {"train_grouping": row.train_grouping}}))
          for row in fresh]
  rows = accuracy_table.build_table(
      runs, out_csv=str(csv_path), out_md=str(tmp_path / "cpu.md"), title="t", command="c",
      train=lambda config: {"epochs": 4, "num_epochs": 4, "row": fresh[runs.index(
          next(r for r in runs if r.config is config))]},
      test_images=lambda config: 3000, progress=lambda line: None)
  assert rows == fresh
  table = accuracy_table.read_csv(str(csv_path))
  assert [(r.task, r.fold, r.train_grouping, r.test_accuracy) for r in table] == [
      ("v1", 1, "independent", 0.97), ("n2", 1, "independent", 0.95),
      ("n2", 4, "independent", 0.945), ("n2", 4, "consecutive", 0.93),
      ("n4", 1, "independent", 0.93)]
  assert table[3].drop_vs_f1 == pytest.approx(2.0)  # against the kept f = 1 row


@pytest.mark.parametrize("args, message", [
    (["--budget=weekend"], "unknown budget 'weekend'"),
    (["--budget=tiny", "--config=configs/accuracy.py:tiny"], "give --budget or --config"),
    (["--budget=tiny", "--config.tasks=v9"], "unknown task 'v9'"),
])
def test_bad_input_is_one_error_line(args, message, tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "experiments.reproduce_accuracy", *args,
       f"--config.out_dir={tmp_path}", f"--config.runs_dir={tmp_path}"],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith("error: ")
  assert message in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1


def test_recipes_add_folded_rows_with_their_own_workdir_and_twin():
  config = accuracy_configs.get_config("cpu")
  config.tasks, config.folds, config.recipes = ("v5",), (1, 4), ("embedded", "connected")
  runs = accuracy_configs.run_configs(config)
  assert [(fold, recipe, run.workdir) for _, fold, _, recipe, run in runs] == [
      (1, "embedded", "runs/accuracy/cpu/v5/f1_s0"),
      (4, "embedded", "runs/accuracy/cpu/v5/f4_s0"),
      (4, "connected", "runs/accuracy/cpu/v5/f4_s0_connected")]
  embedded, connected = runs[1][-1], runs[2][-1]
  assert run_epochs(embedded) == 0 and accuracy_table.twin_config(embedded) is None
  assert (run_epochs(connected), connected.warm_start.cross_slot_init) == (6, 0.1)
  # The connected model trains 28 + 6 epochs in all, so its twin trains 34 alone.
  twin = accuracy_table.twin_config(connected)
  assert (twin.config.fold, twin.config.num_epochs) == (1, 34)
  assert twin.spec == slots.slot_spec(ModelSpec.for_task("v5", fold=4))
  assert twin.config.workdir == "runs/accuracy/cpu/v5/f4_s0_connected/twin_e34"
  assert twin.config.optimizer.learning_rate == connected.warm_start.learning_rate
  # A random start trains twice the f = 1 cell's 28 epochs, and its twin as many alone.
  config.recipes = ("random_start",)
  random_start = accuracy_configs.run_configs(config)[1][-1]
  assert random_start.workdir == "runs/accuracy/cpu/v5/f4_s0_random_start"
  assert (run_epochs(random_start), random_start.warm_start.slot_epochs) == (56, 0)
  assert random_start.model.slot_init == "twin"
  assert random_start.optimizer.learning_rate == embedded.warm_start.learning_rate
  assert accuracy_table.twin_config(random_start).config.num_epochs == 56
  assert accuracy_table.twin_config(random_start).config.curriculum.mode == "off"
  config.recipes = ("tied",)
  tied = accuracy_configs.run_configs(config)[1][-1]
  assert (tied.optimizer.tie_slots, tied.curriculum.mode, run_epochs(tied)) == (True, "on", 56)
  # The twin trains the folded run's curriculum: on v1 (11 classes) I = max(K // 10, f) = 4 at
  # f = 4, where an f = 1 run's default would be 1. Twins of different configs (here the
  # curriculum) train apart.
  config.tasks = ("v1",)
  tied_v1 = accuracy_configs.run_configs(config)[1][-1]
  twin_curriculum = accuracy_table.twin_config(tied_v1).config.curriculum
  assert make_run_settings(tied_v1).curriculum.initial == 4
  assert (twin_curriculum.mode, twin_curriculum.initial_classes, twin_curriculum.step_classes,
          twin_curriculum.step_epochs) == ("on", 4, 1, 3)
  config.tasks = ("v5",)
  assert accuracy_table.twin_config(tied).config.workdir == \
      "runs/accuracy/cpu/v5/f4_s0_tied/twin_e56"
  config.recipes = ("embedded", "magic")
  with pytest.raises(ValueError, match="unknown recipe 'magic'"):
    accuracy_configs.run_configs(config)


def test_embedded_rows_of_a_table_written_before_the_twin_columns_are_their_own_twins(tmp_path):
  path = tmp_path / "old.csv"
  row = _row("v5", 4, "independent", 0.91)
  row.warm_start_epochs, row.epochs, row.num_epochs = 28, 0, 0
  accuracy_table.write_csv([_row("v5", 1, "independent", 0.95), row], str(path))
  old_columns = [c for c in accuracy_table.AccuracyRow.columns()
                 if c not in ("recipe", "teacher_epochs", "twin_test_accuracy", "twin_epochs",
                              "cross_slot_ablated_test_accuracy", "cross_slot_weight_share")]
  lines = path.read_text().splitlines()
  import csv as csv_lib
  records = list(csv_lib.DictReader(lines))
  with open(path, "w", newline="") as file:
    writer = csv_lib.DictWriter(file, fieldnames=old_columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
  f1, f4 = accuracy_table.read_csv(str(path))
  assert math.isnan(f1.twin_test_accuracy) and f4.recipe == "embedded"
  assert (f4.twin_test_accuracy, f4.twin_epochs) == (0.91, 28)
  assert (f4.cross_slot_ablated_test_accuracy, f4.cross_slot_weight_share) == (0.91, 0.0)
  # A folded row with folded epochs has no such identity: its twin is a run of its own.
  row.epochs = row.num_epochs = 6
  accuracy_table.write_csv([row], str(path))
  assert math.isnan(accuracy_table.read_csv(str(path))[0].twin_test_accuracy)
