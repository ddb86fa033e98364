"""Training end to end on the tiny task: accuracy, curriculum, distillation, sharding, NaN."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import tiny
from foldedcnn_jax import predict
from foldedcnn_jax.models import ModelSpec, create_model
from foldedcnn_jax.train import ConfigError, loop, recipe, steps
from foldedcnn_jax.train.metrics import TIMING_FIELDS, read_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("data"))


def tiny_config(data_dir, workdir, fold=1, epochs=5):
  config = tiny.get_config("quick")
  config.fold, config.num_epochs, config.progress = fold, epochs, False
  config.workdir, config.data.data_dir = str(workdir), data_dir
  return config


@pytest.fixture(scope="module")
def teacher(data_dir, tmp_path_factory):
  """An f = 1 run, also the teacher of the distillation tests."""
  workdir = tmp_path_factory.mktemp("teacher")
  summary = recipe.train_and_evaluate(tiny_config(data_dir, workdir))
  return str(workdir), summary


def test_fold_1_trains_to_high_accuracy(teacher):
  workdir, summary = teacher
  records = read_metrics(workdir)
  assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
  assert summary["best_val_accuracy"] >= 0.95 and summary["test_accuracy_at_best"] >= 0.9
  assert records[-1]["train_loss"] < records[0]["train_loss"]
  assert records[0]["train_images"] == 256  # 4 classes × 64, batches of 32
  assert "val_top5_accuracy" not in records[0]  # K = 4: no top-5
  assert all(r["images_per_second"] > 0 for r in records)
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  saved = json.load(open(os.path.join(workdir, "config.json")))
  assert saved["fold"] == 1 and json.load(open(os.path.join(workdir, "task.json")))["id"] == "tiny"


def test_fold_2_trains_to_high_accuracy(data_dir, tmp_path):
  summary = recipe.train_and_evaluate(tiny_config(data_dir, tmp_path, fold=2))
  assert summary["best_val_accuracy"] >= 0.95 and summary["test_accuracy_at_best"] >= 0.9
  best = predict.load(str(tmp_path))
  assert best.fold == 2 and best.checkpoint.endswith(f"/{summary['best_epoch']}")


def test_curriculum_adds_classes_per_epoch(data_dir, tmp_path):
  config = tiny_config(data_dir, tmp_path, fold=2, epochs=4)
  config.curriculum.mode = "on"
  config.curriculum.initial_classes, config.curriculum.step_classes = 2, 1
  config.curriculum.step_epochs = 1
  records = read_metrics(recipe.train_and_evaluate(config)["workdir"])
  assert [r["num_classes_seen"] for r in records] == [2, 3, 4, 4]
  assert [r["train_images"] for r in records] == [128, 192, 256, 256]
  first = records[0]  # two classes seen: all-class accuracy is at most half
  assert first["val_accuracy"] <= 0.5 + 1e-9 and first["val_accuracy_seen"] >= first["val_accuracy"]


@pytest.mark.parametrize("loss", ["mse", "kl"])
def test_distillation_from_an_f1_teacher(data_dir, teacher, tmp_path, loss):
  config = tiny_config(data_dir, tmp_path, fold=2)
  config.distillation.teacher, config.distillation.loss = teacher[0], loss
  config.distillation.alpha, config.distillation.temperature = 0.5, 2.0
  records = read_metrics(recipe.train_and_evaluate(config)["workdir"])
  assert max(r["val_accuracy"] for r in records) >= 0.9
  assert all(r["train_loss"] != r["train_cross_entropy"] for r in records)  # D enters the loss


def test_distillation_needs_an_f1_teacher_of_the_same_task(data_dir, tmp_path):
  folded = tmp_path / "folded"
  recipe.train_and_evaluate(tiny_config(data_dir, folded, fold=2, epochs=1))
  config = tiny_config(data_dir, tmp_path / "student", fold=2, epochs=1)
  config.distillation.teacher = str(folded)
  with pytest.raises(ConfigError, match="must be an f=1 model of task 'tiny'"):
    recipe.train_and_evaluate(config)


def test_distillation_losses_vanish_only_on_equal_logits():
  rng = np.random.default_rng(0)
  student, teacher_logits = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
  for loss in ("mse", "kl"):
    rule = steps.Distillation(loss, temperature=3.0, alpha=1.0)
    assert np.allclose(steps.distillation_loss(student, student, rule), 0, atol=1e-6)
    assert np.all(steps.distillation_loss(student, teacher_logits, rule) > 0)
  mse = steps.distillation_loss(student, teacher_logits, steps.Distillation("mse", 1.0, 1.0))
  assert np.allclose(mse, np.mean((student - teacher_logits) ** 2, -1), rtol=1e-6)


def test_eval_step_counts_top5_and_seen_classes():
  spec = ModelSpec("C4 M2 F7", (4, 4, 3), fold=2)
  graphdef, params = __import__("flax").nnx.split(create_model(spec, seed=1))
  rng = np.random.default_rng(0)
  batch = {"image": rng.integers(0, 256, (8, 4, 4, 3), dtype=np.uint8),
           "label": rng.integers(0, 7, 8).astype(np.int32),
           "mask": np.array([True] * 6 + [False] * 2)}
  logits = np.asarray(steps.unfolded_logits(graphdef, params, batch["image"], 2))
  metrics = jax.device_get(steps.eval_step(graphdef, params, batch, 3, fold=2, top_k=5))
  mask, labels = batch["mask"], batch["label"]
  top5 = np.argsort(-logits, -1)[:, :5]
  correct = (logits.argmax(-1) == labels) & mask
  assert metrics["count"] == 6 and metrics["correct"] == correct.sum()
  assert metrics["correct_top_k"] == ((top5 == labels[:, None]).any(-1) & mask).sum()
  assert metrics["count_seen"] == (mask & (labels < 3)).sum()
  assert metrics["correct_seen"] == (correct & (labels < 3)).sum()


def test_nan_loss_stops_training_with_a_clear_error(data_dir, tmp_path):
  config = tiny_config(data_dir, tmp_path, epochs=3)
  config.optimizer.name, config.optimizer.learning_rate = "sgd", 1e38
  with pytest.raises(loop.TrainingDivergedError, match="training diverged: the train loss is"):
    recipe.train_and_evaluate(config)
  assert not os.path.exists(os.path.join(tmp_path, "checkpoints", "3"))


def test_resuming_with_another_config_is_refused(data_dir, teacher):
  config = tiny_config(data_dir, teacher[0], fold=2)
  with pytest.raises(ConfigError, match="holds a run with a different config .*fold"):
    recipe.train_and_evaluate(config)


_SHARDED = """
import json, sys
import jax
from tests.test_train import sharding_config
from foldedcnn_jax.train import loop, recipe
recipe.train_and_evaluate(sharding_config(sys.argv[1], sys.argv[2]))
print(json.dumps({"devices": jax.device_count()}))
"""


def sharding_config(data_dir, workdir):
  config = tiny_config(data_dir, workdir, fold=2, epochs=2)
  config.tensorboard = False
  return config


def test_eight_devices_give_the_same_losses_and_params_as_one(data_dir, tmp_path):
  one_device = str(tmp_path / "one")
  recipe.train_and_evaluate(sharding_config(data_dir, one_device))
  eight_devices = str(tmp_path / "eight")
  env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu",
         "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
  result = subprocess.run([sys.executable, "-c", _SHARDED, data_dir, eight_devices], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert json.loads(result.stdout.strip().splitlines()[-1])["devices"] == 8
  records = {path: read_metrics(path) for path in (one_device, eight_devices)}
  for one, eight in zip(records[one_device], records[eight_devices], strict=True):
    for key, value in one.items():
      if key not in TIMING_FIELDS:
        assert eight[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
  params = [jax.tree.leaves(predict.load(path, which="latest").params)
            for path in (one_device, eight_devices)]
  for one, eight in zip(*params, strict=True):
    np.testing.assert_allclose(one, eight, rtol=1e-4, atol=1e-5)
