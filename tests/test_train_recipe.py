"""Training recipe options: augmentation, label smoothing, the learning-rate schedule and the
sliced-pool formulation of the train/eval steps."""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

from foldedcnn_jax.models import cnn
from foldedcnn_jax.models import spec as spec_lib
from foldedcnn_jax.tasks import get_task
from foldedcnn_jax.train import config as config_lib
from foldedcnn_jax.train import saved_config, steps


def _images(count=6, height=5, width=7):
  return jnp.asarray(np.arange(count * height * width * 3, dtype=np.uint8)
                     .reshape(count, height, width, 3))


def test_augmentation_is_a_pure_function_of_seed_and_step():
  images = _images()
  augment = steps.Augment(shift=2, flip=True, seed=3)
  first = steps.augment_images(images, jnp.int32(5), augment)
  np.testing.assert_array_equal(first, steps.augment_images(images, jnp.int32(5), augment))
  assert first.shape == images.shape and first.dtype == images.dtype
  assert not np.array_equal(first, steps.augment_images(images, jnp.int32(6), augment))
  other_seed = steps.Augment(shift=2, flip=True, seed=4)
  assert not np.array_equal(first, steps.augment_images(images, jnp.int32(5), other_seed))


def test_flip_mirrors_whole_images_and_shift_moves_them():
  images = _images(count=32)
  flipped = np.asarray(steps.augment_images(images, jnp.int32(0), steps.Augment(flip=True)))
  pairs = list(zip(flipped, np.asarray(images), strict=True))
  mirrored = [np.array_equal(out, image[:, ::-1]) for out, image in pairs]
  unchanged = [np.array_equal(out, image) for out, image in pairs]
  assert all(m or u for m, u in zip(mirrored, unchanged, strict=True)) and 0 < sum(mirrored) < 32
  shifted = np.asarray(steps.augment_images(images, jnp.int32(0), steps.Augment(shift=1)))
  for out, image in zip(shifted, np.asarray(images), strict=True):
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    windows = [padded[dy:dy + 5, dx:dx + 7] for dy in range(3) for dx in range(3)]
    assert any(np.array_equal(out, window) for window in windows)
  assert any(not np.array_equal(out, image)
             for out, image in zip(shifted, np.asarray(images), strict=True))


def _optimizer_config(schedule="constant", warmup_fraction=0.0):
  return ml_collections.ConfigDict(dict(
      name="sgd", learning_rate=0.5, weight_decay=0.0, momentum=0.0, rmsprop_decay=0.9, eps=1e-8,
      schedule=schedule, warmup_fraction=warmup_fraction))


def test_cosine_schedule_warms_up_then_decays_to_zero():
  schedule = steps.learning_rate_schedule(_optimizer_config("cosine", 0.1), total_steps=100)
  assert float(schedule(0)) == 0.0 and float(schedule(10)) == pytest.approx(0.5)
  assert float(schedule(55)) == pytest.approx(0.25, abs=1e-6)
  assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
  assert steps.learning_rate_schedule(_optimizer_config(), total_steps=None) == 0.5
  with pytest.raises(ValueError, match="total number of steps"):
    steps.learning_rate_schedule(_optimizer_config("cosine"), total_steps=None)


def _state_and_batch(task="v1", fold=2, batch=8):
  spec = spec_lib.ModelSpec.for_task(task, fold=fold)
  graphdef, params = nnx.split(cnn.create_model(spec, seed=0))
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (batch, *get_task(task).input_shape), dtype=np.uint8)
  labels = rng.integers(0, 11, batch).astype(np.int32)
  tx = optax.sgd(0.1)
  state = {"params": params, "opt_state": tx.init(params), "step": jnp.int32(0)}
  return graphdef, state, tx, {"image": jnp.asarray(images), "label": jnp.asarray(labels),
                               "mask": jnp.ones(batch, bool)}


def test_sliced_pool_formulation_trains_like_the_model():
  graphdef, state, tx, batch = _state_and_batch()
  model_logits = steps.unfolded_logits(graphdef, state["params"], batch["image"], 2)
  sliced_logits = steps.unfolded_logits(graphdef, state["params"], batch["image"], 2,
                                        "sliced_pool")
  np.testing.assert_allclose(sliced_logits, model_logits, rtol=1e-5, atol=1e-5)
  plain, plain_metrics = steps.train_step(graphdef, state, batch, tx=tx, fold=2)
  sliced, sliced_metrics = steps.train_step(graphdef, state, batch, tx=tx, fold=2,
                                            formulation="sliced_pool")
  leaves = zip(jax.tree.leaves(plain["params"]), jax.tree.leaves(sliced["params"]), strict=True)
  for a, b in leaves:
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  assert float(plain_metrics["loss_sum"]) == pytest.approx(float(sliced_metrics["loss_sum"]))


def test_label_smoothing_changes_the_loss_not_the_reported_cross_entropy():
  graphdef, state, tx, batch = _state_and_batch()
  _, plain = steps.train_step(graphdef, state, batch, tx=tx, fold=2)
  _, smoothed = steps.train_step(graphdef, state, batch, tx=tx, fold=2, label_smoothing=0.2)
  assert float(smoothed["cross_entropy_sum"]) == pytest.approx(float(plain["cross_entropy_sum"]))
  assert float(smoothed["loss_sum"]) != pytest.approx(float(plain["loss_sum"]))


def test_formulation_auto_slices_pools_only_on_cpu():
  assert config_lib.resolve_formulation("auto", "cpu") == "sliced_pool"
  assert config_lib.resolve_formulation("auto", "gpu") == ""
  assert config_lib.resolve_formulation("model", "cpu") == ""
  assert config_lib.resolve_formulation("sliced_pool", "gpu") == "sliced_pool"


def test_compiler_options_auto_sends_cpu_convolutions_to_eigen_and_keep_the_step():
  assert config_lib.resolve_compiler_options("auto", "cpu") == {
      "xla_cpu_experimental_ynn_fusion_type": ""}
  assert config_lib.resolve_compiler_options("auto", "gpu") == {}
  assert config_lib.resolve_compiler_options("", "cpu") == {}
  assert config_lib.resolve_compiler_options("xla_cpu_use_thunk_runtime=true", "cpu") == {
      "xla_cpu_use_thunk_runtime": True}
  with pytest.raises(config_lib.UserInputError, match="is not key=value"):
    config_lib.resolve_compiler_options("eigen", "cpu")
  # The same step compiled with and without the options: the same loss and update.
  graphdef, state, tx, batch = _state_and_batch()
  mesh = steps.make_mesh()
  outputs = []
  for options in ({}, config_lib.resolve_compiler_options("auto", "cpu")):
    step = steps.jit_train(steps.train_and_accumulate, graphdef, mesh,
                           compiler_options=options or None, tx=tx, fold=2)
    fresh = jax.tree.map(jnp.copy, state)
    sums = steps.zero_sums(functools.partial(steps.train_step, graphdef, tx=tx, fold=2),
                           fresh, batch, None)
    new_state, new_sums = step(fresh, sums, batch)
    outputs.append((float(new_sums["loss_sum"]), jax.tree.leaves(new_state["params"])))
  assert outputs[0][0] == pytest.approx(outputs[1][0], rel=1e-5)
  for default, eigen in zip(outputs[0][1], outputs[1][1], strict=True):
    np.testing.assert_allclose(default, eigen, rtol=1e-4, atol=1e-5)


def test_ema_follows_the_parameters_by_incremental_update_and_is_what_is_evaluated():
  graphdef, state, tx, batch = _state_and_batch()
  assert "ema_params" not in steps.init_state(state["params"], tx)
  averaged = steps.init_state(state["params"], tx, ema=True)
  assert steps.eval_params(averaged) is averaged["ema_params"]
  plain, _ = steps.train_step(graphdef, state, batch, tx=tx, fold=2)
  new, _ = steps.train_step(graphdef, averaged, batch, tx=tx, fold=2, ema_decay=0.99)
  # Step 0 averages at decay min(0.99, 1/10): the average moves 90 % of the way.
  assert float(steps.ema_step_size(0, 0.99)) == pytest.approx(0.9)
  assert float(steps.ema_step_size(10_000, 0.99)) == pytest.approx(0.01, rel=1e-4)
  for before, trained, average, unaveraged in zip(
      jax.tree.leaves(state["params"]), jax.tree.leaves(new["params"]),
      jax.tree.leaves(new["ema_params"]), jax.tree.leaves(plain["params"]), strict=True):
    np.testing.assert_array_equal(trained, unaveraged)  # the optimizer is untouched
    np.testing.assert_allclose(average, 0.1 * before + 0.9 * trained, rtol=1e-5, atol=1e-7)
  assert any(not np.allclose(a, t) for a, t in zip(
      jax.tree.leaves(new["ema_params"]), jax.tree.leaves(new["params"]), strict=True))
  assert steps.eval_params(new) is new["ema_params"]


def test_ema_decay_is_checked_and_old_configs_without_it_still_resume():
  from configs import tiny

  config = tiny.get_config("quick")
  config.optimizer.ema_decay = 1.0
  with pytest.raises(config_lib.ConfigError, match="ema_decay must be in"):
    config_lib.make_run_settings(config)
  saved = saved_config.config_to_dict(tiny.get_config("quick"))
  del saved["optimizer"]["ema_decay"]  # a run saved before the field existed
  current = saved_config.config_to_dict(tiny.get_config("quick"))
  assert saved_config.changed_fields(saved, current) == []
  current["optimizer"]["ema_decay"] = 0.999
  assert saved_config.changed_fields(saved, current) == ["optimizer.ema_decay"]


def test_folded_epochs_may_change_on_resume_like_num_epochs():
  from configs import n2

  saved = saved_config.config_to_dict(n2.get_config("quick"))
  del saved["warm_start"]["folded_epochs"]  # an f = 1 run saved before the field existed
  current = saved_config.config_to_dict(n2.get_config("quick"))
  assert current["warm_start"]["folded_epochs"] == 0  # the practical recipe's
  assert saved_config.changed_fields(saved, current) == []
  saved["fold"] = current["fold"] = 4
  current["warm_start"]["slot_epochs"] = 3
  assert saved_config.changed_fields(saved, current) == ["warm_start.slot_epochs"]


def test_an_f1_run_resumes_whatever_the_folded_runs_warm_start_holds():
  from configs import v3

  saved = saved_config.config_to_dict(v3.get_config("quick"))
  current = saved_config.config_to_dict(v3.get_config("quick"))
  assert saved["fold"] == 1
  saved["warm_start"]["learning_rate"] = 1e-3  # a run saved before the recipe's slot rate changed
  assert current["warm_start"]["learning_rate"] == 3e-3
  assert saved_config.changed_fields(saved, current) == []
  current["optimizer"]["learning_rate"] = 3e-3  # what an f = 1 run does read still counts
  assert saved_config.changed_fields(saved, current) == ["optimizer.learning_rate"]
  saved["fold"] = current["fold"] = 2  # a folded run reads its warm start
  assert saved_config.changed_fields(saved, current) == ["optimizer.learning_rate",
                                                       "warm_start.learning_rate"]
  saved["fold"] = 1  # so does a change of fold
  assert "fold" in saved_config.changed_fields(saved, current)


def test_folded_only_fields_are_the_whole_warm_start_at_the_defaults_and_the_slot_runs_values():
  from configs import base, v1
  from foldedcnn_jax.train import recipe

  defaults = base.get_config()
  assert {f"warm_start.{name}" for name in defaults.warm_start} <= set(
      saved_config.FOLDED_ONLY_FIELDS)
  config = v1.get_config()
  config.fold, config.data.input_repetition, config.optimizer.tie_slots = 4, 0.5, True
  config.model.slot_init, config.warm_start.cross_slot_init = "twin", 0.1
  slot = recipe.slot_model_run(config, "/tmp/run").config
  for path, value in saved_config.FOLDED_ONLY_FIELDS.items():
    group, name = path.split(".")
    assert defaults[group][name] == value, path  # the value that leaves a run unfolded
    assert slot[group][name] == value, path
  saved = saved_config.config_to_dict(base.get_config())
  for path in saved_config.FOLDED_ONLY_FIELDS:  # an f = 1 run saved before any of them existed
    group, name = path.split(".")
    saved[group].pop(name, None)
  assert saved_config.changed_fields(saved, saved_config.config_to_dict(base.get_config())) == []
