import dataclasses
import os
import subprocess
import sys

import pytest

from foldedcnn_jax import accuracy_plots
from foldedcnn_jax.bench import records
from foldedcnn_jax.errors import UserInputError
from tests.test_plots import PNG_SIGNATURE, REPO, synthetic_records


def _twin_rows():
  rows = [r for r in synthetic_records() if r.batch_images == 1024]
  extra = [dataclasses.replace(r, model=model, images_per_second_median=rate * r.fold)
           for r in rows if r.model == "folded" and r.fold > 1
           for model, rate in (("narrow", 900.0), ("embedded", 1100.0))]
  return rows + extra


def test_accuracy_points_tolerate_tables_with_and_without_the_twin_columns(tmp_path):
  old = tmp_path / "old.csv"
  old.write_text("task,fold,seed,status,test_accuracy\nv1,1,0,done,0.99\nv1,2,0,done,0.98\n"
                 "v1,2,1,done,0.96\nv1,4,0,failed: boom,0.5\n")
  points = {(p.kind, p.fold): p for p in accuracy_plots.read_accuracy(str(old))}
  assert set(points) == {("original", 1), ("embedded", 2), ("narrow", 2)}  # failed row left out
  assert points[("embedded", 2)].accuracies == points[("narrow", 2)].accuracies == (98.0, 96.0)
  new = tmp_path / "new.csv"
  new.write_text("task,fold,seed,status,test_accuracy,twin_test_accuracy,recipe\n"
                 "v1,1,0,done,0.99,,\nv1,2,0,done,0.97,97.5,embedded\n"
                 "v1,4,0,done,0.95,93.0,repeat\n")
  points = {(p.kind, p.fold): p for p in accuracy_plots.read_accuracy(str(new))}
  assert points[("narrow", 2)].accuracies == (97.5,) and points[("narrow", 4)].mean == 93.0
  assert points[("trained", 4)].label == "folded (repeat)" and points[("trained", 4)].mean == 95.0
  budgets = tmp_path / "budgets.csv"  # twins of 28 and 56 epochs: two narrow points
  budgets.write_text("task,fold,seed,status,test_accuracy,twin_test_accuracy,twin_epochs,recipe\n"
                     "v1,4,0,done,0.98,98.0,28,embedded\nv1,4,0,done,0.96,99.5,56,tied\n")
  narrow = {p.label: p.mean for p in accuracy_plots.read_accuracy(str(budgets))
            if p.kind == "narrow"}
  assert narrow == {"narrow twin (28 epochs)": 98.0, "narrow twin (56 epochs)": 99.5}
  with pytest.raises(UserInputError, match="no accuracy CSV"):
    accuracy_plots.read_accuracy(str(tmp_path / "none.csv"))


def test_accuracy_figures_are_written_per_task_and_from_the_cli(tmp_path):
  accuracy = tmp_path / "accuracy.csv"
  accuracy.write_text("task,fold,seed,status,test_accuracy\nv1,1,0,done,0.99\nv1,2,0,done,0.98\n"
                      "v1,4,0,done,0.97\nn2,1,0,done,0.98\nn2,4,0,done,0.97\nv9,1,0,done,0.5\n")
  paths = accuracy_plots.accuracy_figures(_twin_rows(), str(accuracy), str(tmp_path / "out"))
  assert [os.path.basename(p) for p in paths] == ["accuracy_speed_v1.png", "accuracy_speed_n2.png"]
  for path in paths:  # v9 has no benchmark rows: no figure
    with open(path, "rb") as file:
      assert file.read(8) == PNG_SIGNATURE
  drawn = accuracy_plots.accuracy_vs_throughput(
      _twin_rows(), accuracy_plots.read_accuracy(str(accuracy)), str(tmp_path / "all.png"))
  assert drawn == ["v1", "n2"]
  csv_path = tmp_path / "bench.csv"
  records.write_csv(_twin_rows(), str(csv_path))
  done = subprocess.run([sys.executable, "-m", "experiments.plot", str(csv_path),
                         f"--accuracy_csv={accuracy}"], cwd=REPO, capture_output=True, text=True,
                        timeout=120)
  assert done.returncode == 0, done.stderr
  assert os.path.isfile(tmp_path / "accuracy_speed_n2.png") and os.path.isfile(
      tmp_path / "figure7.png")


def test_a_trained_model_that_stayed_block_diagonal_is_placed_at_the_block_diagonal_speed(
    tmp_path):
  table = tmp_path / "table.csv"
  table.write_text("task,fold,seed,status,test_accuracy,twin_test_accuracy,recipe,"
                   "cross_slot_weight_share\n"
                   "v1,1,0,done,0.99,,,\nv1,4,0,done,0.98,,embedded,0.0\n"
                   "v1,4,0,done,0.97,97.5,tied,0.0\nv1,4,1,done,0.96,97.0,tied,0.0\n"
                   "v1,4,0,done,0.95,96.0,connected,0.003\n"
                   "v1,4,0,done,0.94,96.0,mixed,0.0\nv1,4,1,done,0.93,96.0,mixed,0.01\n")
  points = accuracy_plots.read_accuracy(str(table))
  [(task, placed)] = accuracy_plots.placements(_twin_rows(), points)
  rates = {point.label: rate for point, rate in placed}
  assert task == "v1" and rates["original"] == 1000.0
  assert rates["block-diagonal"] == rates["folded (tied)"] == 4400.0  # the embedded row's
  assert rates["folded (connected)"] == rates["folded (mixed)"] == 4000.0  # dense: folded
  assert rates["narrow twin"] == 3600.0
  assert {p.label: p.block_diagonal for p in points if p.kind == "trained"} == {
      "folded (tied)": True, "folded (connected)": False, "folded (mixed)": False}
  folded_only = [r for r in _twin_rows() if r.model != "embedded"]  # no embedded row
  placed = dict(accuracy_plots.placements(folded_only, points))["v1"]
  assert {p.label: rate for p, rate in placed}["folded (tied)"] == 4000.0


def test_a_seed_at_chance_is_counted_in_the_label_not_averaged(tmp_path):
  table = tmp_path / "table.csv"
  table.write_text("task,fold,seed,status,test_accuracy,recipe\n"  # v6: 62 classes
                   "v6,1,0,done,0.95,\nv6,4,0,done,0.92,embedded\nv6,4,1,done,0.94,embedded\n"
                   "v6,4,2,done,0.0158,embedded\nv6,2,0,done,0.03,embedded\n")
  points = {(p.kind, p.fold): p for p in accuracy_plots.read_accuracy(str(table))}
  bad = points[("embedded", 4)]
  assert bad.accuracies == (92.0, 94.0) and bad.mean == 93.0 and bad.at_chance == 1
  assert bad.label == "block-diagonal (1 of 3 seeds at chance)"
  assert points[("embedded", 2)].accuracies == (3.0,)  # below 1.61 + 0.1 × 98.39 = 11.45
  assert points[("embedded", 2)].at_chance == 1  # every seed at chance: drawn there, and said
  assert points[("original", 1)].at_chance == 0
  assert not accuracy_plots.at_chance("v1", 18.5) and accuracy_plots.at_chance("v1", 18.0)
  assert not accuracy_plots.at_chance("n2", 56.0) and accuracy_plots.at_chance("n2", 54.0)
  assert not accuracy_plots.at_chance("unknown", 0.1)  # K unknown: never excluded
