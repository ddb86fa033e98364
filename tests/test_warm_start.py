"""The slot-wise warm start as a training recipe: the slot run, the embedding, resuming, errors."""

import json
import os
import shutil

import jax
import numpy as np
import pytest
from flax import nnx

from configs import tiny, v1
from foldedcnn_jax import data, predict
from foldedcnn_jax.models import ModelSpec, slots
from foldedcnn_jax.runtime import folding
from foldedcnn_jax.train import ConfigError, make_run_settings, recipe, trainer
from foldedcnn_jax.train.metrics import TIMING_FIELDS, read_metrics


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp("data"))
  data.prepare_dataset("tiny", data.Source(directory), progress=False)
  return directory


def warm_config(data_dir, workdir, fold=2, epochs=1, slot_epochs=2):
  config = tiny.get_config("quick")
  config.fold, config.num_epochs, config.progress, config.tensorboard = fold, epochs, False, False
  config.workdir, config.data.data_dir = str(workdir), data_dir
  config.warm_start.slot_epochs = slot_epochs
  config.warm_start.learning_rate = 3e-3  # the slot phase's; the folded phase keeps the run's
  return config


@pytest.fixture(scope="module")
def warm_run(data_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("warm")
  recipe.train_and_evaluate(warm_config(data_dir, workdir))
  return str(workdir)


def _without_timings(records):
  return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def test_slot_phase_is_an_ordinary_f1_run_in_the_subfolder(warm_run):
  slot_dir = os.path.join(warm_run, recipe.SLOT_WORKDIR)
  assert [r["epoch"] for r in read_metrics(slot_dir)] == [1, 2]
  assert [r["epoch"] for r in read_metrics(warm_run)] == [0, 1]
  saved = json.load(open(os.path.join(slot_dir, "config.json")))
  assert saved["fold"] == 1 and "slots_of_fold" not in saved["model"]  # the recipe gives the spec
  slot_spec = slots.slot_spec(ModelSpec.for_task("tiny", fold=2))
  assert json.load(open(os.path.join(slot_dir, "task.json")))["architecture"] == (
      slot_spec.architecture)
  assert saved["optimizer"]["learning_rate"] == 3e-3 and saved["warm_start"]["slot_epochs"] == 0
  # The predictor rebuilds the slot model from its checkpoint's record.
  slot_model = predict.load(slot_dir)
  assert slot_model.fold == 1
  assert slot_model.spec == slot_spec
  assert predict.load(warm_run).fold == 2


def test_folded_run_starts_as_the_embedded_best_slot_model(data_dir, warm_run, tmp_path):
  config = warm_config(data_dir, warm_run)
  settings = make_run_settings(config)
  slot_dir = os.path.join(warm_run, recipe.SLOT_WORKDIR)
  params = recipe.embed(config, settings, slot_dir)
  graphdef, _ = nnx.split(trainer.initial_model(config, settings))
  folded = nnx.merge(graphdef, params)
  slot_model = predict.load(slot_dir, which="best")
  images = np.random.default_rng(0).integers(0, 256, (8, *settings.spec.input_shape), np.uint8)
  expected = slot_model.logits(images)
  got = np.asarray(folded(folding.fold(images, 2))).reshape(-1, settings.num_classes)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  assert not settings.curriculum.enabled


def test_resuming_a_folded_run_does_not_redo_the_warm_start(data_dir, warm_run, monkeypatch):
  def refuse(*args, **kwargs):
    raise AssertionError("the warm start ran again")

  monkeypatch.setattr(recipe, "train_slot_model", refuse)
  monkeypatch.setattr(recipe, "embed", refuse)
  config = warm_config(data_dir, warm_run, epochs=2)
  recipe.train_and_evaluate(config)
  assert [r["epoch"] for r in read_metrics(warm_run)] == [0, 1, 2]


def test_a_slot_run_saved_with_the_removed_model_flag_resumes_and_refuses_other_models(
    data_dir, warm_run, tmp_path):
  """Slot runs saved before the recipe held `model.slots_of_fold` in their config.json."""
  slot_dir = str(tmp_path / "slot")
  shutil.copytree(os.path.join(warm_run, recipe.SLOT_WORKDIR), slot_dir)
  config_path = os.path.join(slot_dir, "config.json")
  saved = json.load(open(config_path))
  saved["model"]["slots_of_fold"] = 2
  json.dump(saved, open(config_path, "w"))
  config = warm_config(data_dir, tmp_path / "folded")
  summary = recipe.train_and_evaluate(recipe.slot_model_run(config, slot_dir))
  assert summary["epochs"] == summary["num_epochs"] == 2
  plain = warm_config(data_dir, slot_dir, fold=1, slot_epochs=0)
  plain.optimizer.learning_rate, plain.num_epochs = 3e-3, 2  # the slot run's config, f = 1
  with pytest.raises(ConfigError, match=r"\(model architecture differ\)"):
    recipe.train_and_evaluate(plain)


def test_a_run_killed_in_the_slot_phase_resumes_it_to_the_same_trajectory(data_dir, warm_run,
                                                                          tmp_path):
  config = warm_config(data_dir, tmp_path)
  # As if killed after the slot run's first epoch.
  killed = recipe.slot_model_run(config, os.path.join(tmp_path, recipe.SLOT_WORKDIR),
                                 num_epochs=1)
  recipe.train_and_evaluate(killed)
  recipe.train_and_evaluate(config)
  slot_dir = os.path.join(tmp_path, recipe.SLOT_WORKDIR)
  assert [r["epoch"] for r in read_metrics(slot_dir)] == [1, 2]
  for ours, theirs in ((slot_dir, os.path.join(warm_run, recipe.SLOT_WORKDIR)),
                       (str(tmp_path), warm_run)):
    first, second = _without_timings(read_metrics(ours)), _without_timings(read_metrics(theirs))
    # (the warm run may have been extended by another test since)
    for mine, other in zip(first, second[:len(first)], strict=True):
      for key, value in mine.items():
        assert other[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@pytest.mark.parametrize("field, value, message", [
    ("warm_start.slot_epochs", -2, "warm_start.slot_epochs"),
    ("warm_start.folded_epochs", -2, "warm_start.folded_epochs"),
    ("warm_start.folded_learning_rate", -1.0, "warm_start.folded_learning_rate"),
    ("warm_start.learning_rate", -1e-3, "warm_start.learning_rate"),
])
def test_bad_warm_start_fields_are_config_errors(field, value, message):
  config = v1.get_config("quick")
  config.fold = 4
  group, name = field.split(".")
  config[group][name] = value
  with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as error:
    make_run_settings(config)
  assert "\n" not in str(error.value)


def test_slot_run_of_a_game_task():
  config = v1.get_config("quick")
  config.fold = 4
  settings = recipe.slot_model_run(config, "/tmp/run").settings()
  assert settings.spec == slots.slot_spec(ModelSpec.for_task("v1", fold=4)) and settings.fold == 1
  assert settings.workdir == "/tmp/run"
  config = v1.get_config("quick")
  config.fold, config.warm_start.slot_epochs = 4, 8
  # "auto": the slots already know every class
  assert not make_run_settings(config).curriculum.enabled
  config.curriculum.mode = "on"
  assert make_run_settings(config).curriculum.enabled


def test_default_recipe_slot_run_is_as_long_as_the_folded_run_at_its_own_rate():
  config = v1.get_config()  # the practical recipe: slot_epochs = -1
  config.fold = 4
  run = recipe.slot_model_run(config, "/tmp/run/slot")
  slot = run.config
  assert slot.fold == 1 and run.spec == slots.slot_spec(ModelSpec.for_task("v1", fold=4))
  assert slot.num_epochs == config.num_epochs and slot.optimizer.learning_rate == 3e-3
  assert slot.warm_start.slot_epochs == 0 and slot.warm_start.folded_learning_rate == 0
  assert slot.workdir == "/tmp/run/slot"


@pytest.mark.parametrize("model_head, slot_head, expected", [
    (False, False, False), (False, True, True), (True, False, True)])
def test_the_slot_run_starts_its_head_at_zero_when_either_field_asks(model_head, slot_head,
                                                                     expected):
  config = v1.get_config()
  config.fold = 3
  config.model.zero_init_head, config.warm_start.zero_init_head = model_head, slot_head
  slot = recipe.slot_model_run(config, "/tmp/run").config
  assert slot.model.zero_init_head is expected and slot.warm_start.zero_init_head is False


def test_the_embedded_model_is_epoch_0_evaluated_like_the_slot_models_best(warm_run):
  slot_records = read_metrics(os.path.join(warm_run, recipe.SLOT_WORKDIR))
  best_slot = max(slot_records, key=lambda r: r["val_accuracy"])
  start = read_metrics(warm_run)[0]
  assert start["epoch"] == 0 and start["step"] == 0 and "train_loss" not in start
  # f copies of the slot model: each folded image gets the slot model's prediction.
  assert start["val_accuracy"] == pytest.approx(best_slot["val_accuracy"], abs=1e-9)
  assert start["test_accuracy"] == pytest.approx(best_slot["test_accuracy"], abs=1e-9)


def test_no_folded_epochs_makes_the_embedded_slot_model_the_result(data_dir, warm_run, tmp_path):
  config = warm_config(data_dir, tmp_path, epochs=5)
  config.warm_start.folded_epochs = 0
  assert make_run_settings(config).num_epochs == 0
  os.symlink(os.path.join(warm_run, recipe.SLOT_WORKDIR),
             os.path.join(tmp_path, recipe.SLOT_WORKDIR))  # the slot run is done: read back
  summary = recipe.train_and_evaluate(config)
  assert (summary["epochs"], summary["best_epoch"]) == (0, 0)
  assert [r["epoch"] for r in read_metrics(str(tmp_path))] == [0]
  folded = predict.load(str(tmp_path))
  slot_model = predict.load(os.path.join(warm_run, recipe.SLOT_WORKDIR))
  images = np.random.default_rng(1).integers(0, 256, (6, *folded.spec.input_shape[:2],
                                                      slot_model.spec.input_shape[2]), np.uint8)
  np.testing.assert_allclose(folded.logits(images), slot_model.logits(images),
                             rtol=1e-5, atol=1e-5)
  # Run again: nothing to train, the same result read back.
  assert recipe.train_and_evaluate(config)["best_epoch"] == 0


def test_a_folded_epoch_that_does_not_beat_the_embedded_model_leaves_it_the_best(
    data_dir, warm_run, tmp_path):
  config = warm_config(data_dir, tmp_path, epochs=1)
  config.warm_start.folded_learning_rate = 0.3  # far too high: the folded epoch gets worse
  os.symlink(os.path.join(warm_run, recipe.SLOT_WORKDIR),
             os.path.join(tmp_path, recipe.SLOT_WORKDIR))
  summary = recipe.train_and_evaluate(config)
  records = read_metrics(str(tmp_path))
  assert [r["epoch"] for r in records] == [0, 1]
  assert records[1]["val_accuracy"] < records[0]["val_accuracy"]
  assert summary["best_epoch"] == 0
  assert summary["test_accuracy_at_best"] == records[0]["test_accuracy"]


def test_folded_epochs_record_the_cross_slot_ablation(data_dir, tmp_path):
  """Every test evaluation of a folded model says how much it uses the weights between slots:
  the embedded model has none (share 0, ablation changes nothing); a non-zero start has some."""
  config = warm_config(data_dir, tmp_path / "run", epochs=1)
  config.warm_start.cross_slot_init = 0.5
  config.warm_start.folded_epochs = 1
  recipe.train_and_evaluate(config)
  records = read_metrics(str(tmp_path / "run"))
  embedded = records[0]
  assert embedded["epoch"] == 0 and embedded["cross_slot_weight_share"] > 0
  zero = warm_config(data_dir, tmp_path / "zero", epochs=1)
  zero.warm_start.folded_epochs = 0
  recipe.train_and_evaluate(zero)
  twin = read_metrics(str(tmp_path / "zero"))[0]
  assert twin["cross_slot_weight_share"] == 0.0
  assert twin["test_accuracy_cross_slot_ablated"] == twin["test_accuracy"]


def test_a_zero_cross_slot_learning_rate_keeps_the_model_block_diagonal(data_dir, tmp_path):
  config = warm_config(data_dir, tmp_path, epochs=2)
  config.warm_start.folded_epochs = 2
  config.optimizer.cross_slot_lr_scale = 0.0
  recipe.train_and_evaluate(config)
  for record in read_metrics(str(tmp_path)):
    if "test_accuracy" in record:
      assert record["cross_slot_weight_share"] == 0.0
      assert record["test_accuracy_cross_slot_ablated"] == record["test_accuracy"]


def test_a_block_diagonal_random_start_with_frozen_cross_slot_weights_stays_f_narrow_nets(
    data_dir, tmp_path):
  config = warm_config(data_dir, tmp_path, epochs=2, slot_epochs=0)
  config.model.cross_slot_init, config.optimizer.cross_slot_lr_scale = 0.0, 0.0
  recipe.train_and_evaluate(config)
  tested = [r for r in read_metrics(str(tmp_path)) if "test_accuracy" in r]
  assert tested and all(r["cross_slot_weight_share"] == 0.0 and
                        r["test_accuracy_cross_slot_ablated"] == r["test_accuracy"]
                        for r in tested)
  dense = warm_config(data_dir, tmp_path / "dense", epochs=1, slot_epochs=0)
  recipe.train_and_evaluate(dense)
  assert read_metrics(str(tmp_path / "dense"))[-1]["cross_slot_weight_share"] > 0.1


@pytest.mark.parametrize("cross_slot_init", [0.0, 1.0])
def test_a_twin_scaled_random_start_draws_each_slot_as_its_own_narrow_twin(cross_slot_init):
  """model.slot_init="twin": slot j starts as the narrow twin drawn from (seed, j) for its own
  widths (not √f smaller, as the folded layer's fan draws it); the weights between slots are
  the folded draws times model.cross_slot_init."""
  config = v1.get_config("quick")
  config.fold, config.warm_start.slot_epochs = 4, 0
  config.model.slot_init, config.model.cross_slot_init = "twin", cross_slot_init
  settings = make_run_settings(config)
  model = trainer.random_start_model(config, settings)
  masks = slots.cross_slot_masks(model)
  twins = trainer.random_twins(config, settings)
  images = np.random.default_rng(0).integers(0, 256, (8, *settings.spec.input_shape), np.uint8)
  logits = np.asarray(model(folding.fold(images, 4))).reshape(8, -1)
  graphdef, params = nnx.split(model)
  ablated = nnx.merge(graphdef, slots.without_cross_slot(params, masks))
  ablated_logits = np.asarray(ablated(folding.fold(images, 4))).reshape(8, -1)
  for slot, twin in enumerate(twins):
    np.testing.assert_allclose(ablated_logits[slot::4], np.asarray(twin(images[slot::4])),
                               rtol=1e-4, atol=1e-4)
  assert not np.allclose(np.asarray(twins[0](images)), np.asarray(twins[1](images)))
  assert slots.is_block_diagonal(model) == (cross_slot_init == 0.0)
  if cross_slot_init:
    np.testing.assert_raises(AssertionError, np.testing.assert_allclose, logits, ablated_logits)
    folded = trainer.initial_model(config, settings)  # the folded draws between slots
    mask = np.asarray(masks["layers"][0]["kernel"][...])
    np.testing.assert_array_equal(np.asarray(model.layers[0].kernel[...])[mask],
                                  np.asarray(folded.layers[0].kernel[...])[mask])
  # The first conv's in-slot block starts √f = 2 times the folded init's scale.
  folded = trainer.initial_model(config, settings)
  block = np.s_[..., :1, :model.plan[0].out_channels // 4]
  ratio = (np.asarray(model.layers[0].kernel[...])[block].std() /
           np.asarray(folded.layers[0].kernel[...])[block].std())
  assert 1.6 < ratio < 2.5


def test_an_unknown_slot_init_is_refused():
  config = v1.get_config("quick")
  config.fold, config.model.slot_init = 4, "wide"
  with pytest.raises(ConfigError, match="model.slot_init"):
    make_run_settings(config)


@pytest.mark.parametrize("tie_slots", [True, False])
def test_tied_slots_train_a_slot_equivariant_folded_model(data_dir, tmp_path, tie_slots):
  """optimizer.tie_slots: a folded run from a random start stays tied through training (its
  trained model permutes logits with its images); untied training of the same start does not."""
  from foldedcnn_jax.train import checkpoints as checkpoints_lib

  config = warm_config(data_dir, tmp_path, fold=2, epochs=2, slot_epochs=0)
  config.optimizer.tie_slots = tie_slots
  config.model.slot_init, config.model.cross_slot_init = "twin", 0.5
  recipe.train_and_evaluate(config)
  trained = checkpoints_lib.read_trained_model(str(tmp_path))
  model = nnx.merge(trained.graphdef, trained.params)
  start = trainer.random_start_model(config, make_run_settings(config))
  moved = max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(
      jax.tree.leaves(nnx.split(model)[1]), jax.tree.leaves(nnx.split(start)[1]), strict=True))
  assert moved > 1e-3  # it trained
  images = np.random.default_rng(0).integers(0, 256, (4, *model.spec.input_shape), np.uint8)
  logits = np.asarray(model(folding.fold(images, 2))).reshape(4, -1)
  swapped = np.asarray(model(folding.fold(images[[1, 0, 3, 2]], 2))).reshape(4, -1)
  assert (np.abs(swapped - logits[[1, 0, 3, 2]]).max() < 1e-4) == tie_slots
