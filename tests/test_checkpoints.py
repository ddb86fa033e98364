"""Checkpoints: kill-and-resume equivalence, corrupt/partial latest fallback, lookup."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs import tiny
from foldedcnn_jax import predict
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.train import checkpoints, recipe
from foldedcnn_jax.train.metrics import TIMING_FIELDS, read_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = 8


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("data"))


def _command(workdir, data_dir):
  return [sys.executable, "-m", "experiments.train", "--config=configs/tiny.py:quick",
          "--config.fold=2", f"--config.num_epochs={EPOCHS}", f"--config.workdir={workdir}",
          f"--config.data.data_dir={data_dir}", "--config.progress=False"]


def _run(workdir, data_dir):
  result = subprocess.run(_command(workdir, data_dir), cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": ROOT})
  assert result.returncode == 0, result.stderr[-2000:]
  return result


def _without_timings(records):
  return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def _params(workdir, which="latest"):
  return jax.tree.leaves(predict.load(workdir, which=which).params)


def _files(workdir):
  """Every file of a workdir with its contents."""
  contents = {}
  for path in sorted(glob.glob(os.path.join(workdir, "**"), recursive=True)):
    if os.path.isfile(path):
      with open(path, "rb") as file:
        contents[os.path.relpath(path, workdir)] = file.read()
  return contents


def test_a_second_run_is_refused_while_the_first_lives_and_a_killed_one_resumes_exactly(
    data_dir, tmp_path):
  reference, resumed = str(tmp_path / "reference"), str(tmp_path / "resumed")
  _run(reference, data_dir)
  process = subprocess.Popen(_command(resumed, data_dir), cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": ROOT})
  deadline = time.time() + 240
  while len(read_metrics(resumed)) < 3 and process.poll() is None and time.time() < deadline:
    time.sleep(0.01)
  process.send_signal(signal.SIGSTOP)  # alive, holding its workdir, writing nothing meanwhile
  before = _files(resumed)
  second = subprocess.run(_command(resumed, data_dir), cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
  assert second.returncode == 2, second.stderr[-2000:]
  assert second.stderr.splitlines() == [
      f"error: workdir {resumed} is in use by a run that is still alive (pid {process.pid}); "
      "wait for it to end, stop it, or pass another --config.workdir"]
  assert _files(resumed) == before
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert process.returncode == -signal.SIGKILL  # killed, not finished
  assert 3 <= len(read_metrics(resumed)) < EPOCHS
  second = _run(resumed, data_dir)
  assert "resumed from epoch" in second.stdout
  assert _without_timings(read_metrics(resumed)) == _without_timings(read_metrics(reference))
  for which in ("latest", "best"):
    for ours, theirs in zip(_params(resumed, which), _params(reference, which), strict=True):
      np.testing.assert_array_equal(ours, theirs)


def _tiny_config(data_dir, workdir, epochs):
  config = tiny.get_config("quick")
  config.fold, config.num_epochs, config.progress = 2, epochs, False
  config.checkpoint.every_epochs = 1
  config.workdir, config.data.data_dir = str(workdir), data_dir
  return config


def test_corrupt_latest_checkpoint_is_reported_and_the_previous_one_used(data_dir, tmp_path,
                                                                         capsys):
  reference = tmp_path / "reference"
  recipe.train_and_evaluate(_tiny_config(data_dir, reference, 4))
  workdir = tmp_path / "run"
  recipe.train_and_evaluate(_tiny_config(data_dir, workdir, 3))
  latest = workdir / "checkpoints"
  for path in glob.glob(str(latest / "3" / "params" / "**" / "*"), recursive=True):
    if os.path.isfile(path):
      with open(path, "wb") as file:
        file.write(b"not a checkpoint")
  (latest / "4.orbax-checkpoint-tmp").mkdir()  # a save that was cut short: never a step
  capsys.readouterr()
  summary = recipe.train_and_evaluate(_tiny_config(data_dir, workdir, 4))
  output = capsys.readouterr().out
  assert "is unreadable" in output and "resumed from epoch 2" in output
  assert summary["epochs"] == 4
  assert glob.glob(str(workdir / "corrupt" / "3-*"))
  assert sorted(name for name in os.listdir(latest) if name.isdigit()) == ["3", "4"]
  assert [r["epoch"] for r in read_metrics(str(workdir))] == [1, 2, 3, 4]
  assert _without_timings(read_metrics(str(workdir))) == _without_timings(
      read_metrics(str(reference)))
  for ours, theirs in zip(_params(str(workdir)), _params(str(reference)), strict=True):
    np.testing.assert_array_equal(ours, theirs)


def test_orbax_tracks_the_best_and_steps_saved_before_it_did_stay_readable(data_dir, tmp_path):
  config = _tiny_config(data_dir, tmp_path, 3)
  config.checkpoint.keep = 1
  summary = recipe.train_and_evaluate(config)
  directory = str(tmp_path / "checkpoints")
  steps = sorted(int(name) for name in os.listdir(directory) if name.isdigit())
  assert steps == sorted({summary["best_epoch"], 3})
  assert all(os.path.isdir(os.path.join(directory, str(step), "metrics")) for step in steps)
  assert checkpoints.find_checkpoint(str(tmp_path)) == (directory, summary["best_epoch"])
  # Runs saved before orbax tracked the best have no "metrics" item: their best is read from
  # the steps' meta, and resuming one deletes none of its steps.
  for step in steps:
    shutil.rmtree(os.path.join(directory, str(step), "metrics"))
  assert checkpoints.find_checkpoint(str(tmp_path)) == (directory, summary["best_epoch"])
  config.num_epochs = 5
  summary = recipe.train_and_evaluate(config)
  kept = sorted(int(name) for name in os.listdir(directory) if name.isdigit())
  assert set(steps) <= set(kept) and 5 in kept
  assert checkpoints.find_checkpoint(str(tmp_path)) == (directory, summary["best_epoch"])
  assert summary["best_epoch"] in kept


def test_find_checkpoint_accepts_workdir_manager_and_step_directories(data_dir, tmp_path):
  summary = recipe.train_and_evaluate(_tiny_config(data_dir, tmp_path, 2))
  best_dir = str(tmp_path / "checkpoints")
  best_step = summary["best_epoch"]
  assert checkpoints.find_checkpoint(str(tmp_path)) == (best_dir, best_step)
  assert checkpoints.find_checkpoint(str(tmp_path), "latest")[1] == 2
  assert checkpoints.find_checkpoint(best_dir) == (best_dir, best_step)
  assert checkpoints.find_checkpoint(os.path.join(best_dir, str(best_step))) == (best_dir,
                                                                                 best_step)
  with pytest.raises(FileNotFoundError, match="no best checkpoint under"):
    checkpoints.find_checkpoint(str(tmp_path / "tensorboard"))
  with pytest.raises(UserInputError, match="no such workdir or checkpoint directory"):
    predict.load(str(tmp_path / "missing"))


def test_ema_run_resumes_exactly_and_its_checkpoints_hold_the_average(data_dir, tmp_path):
  def config(workdir, epochs):
    config = _tiny_config(data_dir, workdir, epochs)
    config.optimizer.ema_decay = 0.9
    return config

  reference = tmp_path / "reference"
  recipe.train_and_evaluate(config(reference, 3))
  workdir = tmp_path / "run"
  recipe.train_and_evaluate(config(workdir, 2))
  recipe.train_and_evaluate(config(workdir, 3))  # resumes after epoch 2
  assert _without_timings(read_metrics(str(workdir))) == _without_timings(
      read_metrics(str(reference)))
  manager = checkpoints.RunCheckpoints(str(workdir), keep=2)
  template = jax.tree.map(np.asarray, manager.restore_latest(_ema_template(config(workdir, 3)))[0])
  manager.close()
  assert set(template) == {"params", "ema_params", "opt_state", "step"}
  loaded = _params(str(workdir))
  for average, model_param in zip(jax.tree.leaves(template["ema_params"]), loaded, strict=True):
    np.testing.assert_array_equal(average, model_param)  # the predictor gets the average
  assert any(not np.array_equal(a, t) for a, t in zip(
      loaded, jax.tree.leaves(template["params"]), strict=True))
  for ours, theirs in zip(loaded, _params(str(reference)), strict=True):
    np.testing.assert_array_equal(ours, theirs)


def _ema_template(config):
  from foldedcnn_jax.train import make_run_settings, trainer

  return trainer.build(config, make_run_settings(config))[1]
