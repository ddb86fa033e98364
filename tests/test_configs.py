"""Every task config loads and carries its recipe; bad values fail with one clear line."""

import os
import subprocess
import sys

import pytest

from configs import base, n1, n2, n3, n4, tiny, v1, v2, v3, v4, v5, v6
from foldedcnn_jax.train import ConfigError, make_run_settings
from foldedcnn_jax.train import config as config_lib

CONFIGS = {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6, "n1": n1, "n2": n2,
           "n3": n3, "n4": n4, "tiny": tiny}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("task_id", sorted(CONFIGS))
def test_config_loads_and_plans_at_several_folds(task_id):
  for variant in (None, "quick", "paper"):
    config = CONFIGS[task_id].get_config(variant)
    assert config.task == task_id
    for fold in (1, 2, 4):
      config.fold = fold
      settings = make_run_settings(config)
      assert settings.spec.fold == fold and settings.batch_size % fold == 0
      suffix = f"_{variant}" if variant else ""
      assert settings.workdir == os.path.join("runs", task_id, f"f{fold}{suffix}")


@pytest.mark.parametrize("task_id", ["v1", "v2", "v3", "v4", "v5"])
def test_game_paper_recipe_is_the_authors(task_id):
  config = CONFIGS[task_id].get_config("paper")
  assert (config.optimizer.name, config.optimizer.learning_rate) == ("adam", 1e-4)
  assert config.optimizer.weight_decay == 1e-5 and config.num_epochs == 1500
  assert config.batch_size == 32 and config.curriculum.step_epochs == 60
  assert config.optimizer.schedule == "constant" and config.warm_start.slot_epochs == 0
  config.fold = 4
  # folded: the class curriculum, as the authors
  assert make_run_settings(config).curriculum.enabled


@pytest.mark.parametrize("task_id", ["n1", "n2", "n3", "n4"])
def test_noscope_paper_recipe_is_the_authors(task_id):
  config = CONFIGS[task_id].get_config("paper")
  assert config.optimizer.name == "rmsprop"
  assert config.optimizer.learning_rate == pytest.approx(0.001 / 1.5)
  assert config.num_epochs == 50 and config.batch_size == 32


@pytest.mark.parametrize("task_id", ["v1", "n2"])
def test_practical_default_recipe_warm_starts_folded_runs(task_id):
  config = CONFIGS[task_id].get_config()
  assert (config.optimizer.name, config.optimizer.schedule) == ("adam", "cosine")
  assert config.augment.shift > 0
  assert config_lib.optimizer_config(config).learning_rate == 1e-3  # f = 1: no warm start
  config.fold = 4
  assert config_lib.warm_starts(config) and config_lib.slot_epochs(config) == config.num_epochs
  assert config_lib.optimizer_config(config).learning_rate == 1e-4  # the folded phase
  assert not make_run_settings(config).curriculum.enabled


def test_quick_variant_is_smaller_and_named():
  full, quick = n2.get_config(), n2.get_config("quick")
  assert quick.num_epochs < full.num_epochs and quick.variant == "quick"
  assert v1.get_config("quick").data.scale < 1
  assert v1.get_config("quick").data.eval_scale == 1  # val/test keep the paper's size
  with pytest.raises(ValueError, match="unknown config variant 'fast'"):
    v1.get_config("fast")


def test_batch_rounds_down_to_a_multiple_of_fold():
  config = base.get_config()
  for fold, batch in ((1, 32), (3, 30), (5, 30), (8, 32), (32, 32)):
    config.fold = fold
    assert make_run_settings(config).batch_size == batch
  config.fold = 33
  with pytest.raises(ConfigError, match="batch_size=32 must be an integer >= fold"):
    make_run_settings(config)


@pytest.mark.parametrize("field, value, message", [
    ("fold", 0, "config.fold must be an integer >= 1, got 0"),
    ("num_epochs", 0, "config.num_epochs must be >= 1"),
    ("task", "g32", "benchmark-only task"),
    ("task", "v9", "unknown task 'v9'"),
    ("optimizer.name", "adamw", "config.optimizer.name='adamw' is not one of"),
    ("optimizer.learning_rate", -1.0, "learning_rate must be > 0"),
    ("data.scale", 0.0, r"config.data.scale must be in \(0, 100\]"),
    ("data.eval_scale", -1.0, r"config.data.eval_scale must be in \(0, 100\]"),
    ("optimizer.schedule", "linear", "config.optimizer.schedule='linear' is not one of"),
    ("optimizer.warmup_fraction", 1.0, r"config.optimizer.warmup_fraction must be in \[0, 1\)"),
    ("label_smoothing", -0.1, r"config.label_smoothing must be in \[0, 1\)"),
    ("augment.shift", -1, "config.augment.shift must be an integer >= 0"),
    ("model.formulation", "patches", "config.model.formulation='patches' is not one of"),
    ("model.init", "he", "config.model.init='he' is not one of"),
    ("data.video", "x.mp4", "must be given together"),
    ("distillation.loss", "l1", "config.distillation.loss='l1'"),
    ("distillation.teacher", "/no/such/run", "no such workdir or checkpoint"),
    ("model.dtype", "int8", "config.model.dtype='int8'"),
    ("data.batch_repetition", 0, "config.data.batch_repetition must be an integer >= 1"),
])
def test_bad_values_fail_with_one_line(field, value, message):
  config = base.get_config()
  node, _, leaf = field.rpartition(".")
  (config[node] if node else config)[leaf] = value
  with pytest.raises(ConfigError, match=message) as error:
    make_run_settings(config)
  assert "\n" not in str(error.value)


def test_batch_repetition_needs_independent_groups_at_f_above_1():
  config = n2.get_config("quick")
  config.data.batch_repetition, config.data.train_grouping = 2, "consecutive"
  make_run_settings(config)  # f = 1: no groups to keep together
  config.fold = 4
  with pytest.raises(ConfigError, match="batch_repetition=2 reshuffles .* consecutive groups"):
    make_run_settings(config)
  config.data.train_grouping = "independent"
  make_run_settings(config)


def _train_cli(*args):
  return subprocess.run([sys.executable, "-m", "experiments.train", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=120,
                        env={**os.environ, "PYTHONPATH": ROOT})


@pytest.mark.parametrize("args, message", [
    (["--config=configs/n2.py", "--config.fold=0"],
     "error: config.fold must be an integer >= 1, got 0"),
    (["--config=configs/n2.py", "--config.folds=2"],
     'error: --config.folds: no such config field (did you mean "fold"?); configs/base.py'),
    (["--config=configs/n2.py", "--config.optimizer.rate=2"],
     "error: --config.optimizer.rate: no such config field; configs/base.py lists every field"),
    (["--config=configs/n2.py", "--config.fold=two"], "error: flag --config.fold=two"),
    (["--config=configs/n2.py:fast"], "unknown config variant 'fast'"),
    (["--config=configs/nothere.py"], "error: --config: cannot load the config file"),
])
def test_cli_bad_overrides_fail_with_one_line_and_exit_code_2(args, message):
  result = _train_cli(*args)
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 2, result.stderr
  assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
