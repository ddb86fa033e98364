"""The training engine: both data paths give the same batches and the same training, checkpoint
policy (interval, best by validation), the eval permutation, fp16 refusal."""

import os

import jax
import numpy as np
import pytest

from configs import tiny
from foldedcnn_jax import data, predict
from foldedcnn_jax.data import pipeline
from foldedcnn_jax.runtime import grouping
from foldedcnn_jax.train import ConfigError, checkpoints, feeds, make_run_settings, recipe, steps
from foldedcnn_jax.train import trainer as trainer_lib
from foldedcnn_jax.train.metrics import TIMING_FIELDS, read_metrics


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp("data"))
  data.prepare_dataset("tiny", data.Source(directory), progress=False)
  return directory


def tiny_config(data_dir, workdir, fold=2, epochs=3, engine="auto"):
  config = tiny.get_config("quick")
  config.fold, config.num_epochs, config.progress, config.tensorboard = fold, epochs, False, False
  config.workdir, config.data.data_dir, config.data.engine = str(workdir), data_dir, engine
  return config


def _trainer(config):
  return trainer_lib.build(config, make_run_settings(config))


def test_epoch_order_is_a_pure_function_of_seed_epoch_and_classes():
  labels = np.repeat(np.arange(4), 10)
  order = lambda **kw: pipeline.epoch_order(labels, task_classes=4, **kw)
  np.testing.assert_array_equal(order(seed=0, epoch=3), order(seed=0, epoch=3))
  assert not np.array_equal(order(seed=0, epoch=3), order(seed=0, epoch=4))
  assert not np.array_equal(order(seed=0, epoch=3), order(seed=1, epoch=3))
  two = order(seed=0, epoch=3, num_classes=2)
  assert sorted(two.tolist()) == list(range(20))
  batches = pipeline.batch_indices(two, 6, remainder="drop", padding_index=40, row_multiple=4)
  assert batches.indices.shape == (3, 8) and batches.mask.sum() == 18
  assert (batches.indices[~batches.mask] == 40).all()
  np.testing.assert_array_equal(batches.indices[batches.mask], two[:18])


@pytest.mark.parametrize("fold", [1, 2])
def test_device_and_stream_paths_give_the_same_batches(data_dir, tmp_path, fold):
  config = tiny_config(data_dir, tmp_path, fold=fold, engine="device")
  config.curriculum.mode = "on"
  trainer, _ = _trainer(config)
  stream = feeds.StreamSplit(trainer.dataset, "train", trainer.mesh)
  device = trainer.splits["train"]
  assert device.engine == "device"
  for epoch, classes in ((0, 2), (1, 4)):
    batches = trainer.train_batches(epoch, classes)
    pairs = list(zip(device.read(batches), stream.read(batches), strict=True))
    assert len(pairs) == 64 * classes // 32
    for ours, theirs in pairs:
      for key in ("image", "label", "mask"):
        np.testing.assert_array_equal(ours[key], theirs[key])
  eval_batches = trainer.eval_batches("val", "permuted")
  val_device = trainer.splits["val"]
  val_stream = feeds.StreamSplit(trainer.dataset, "val", trainer.mesh)
  for ours, theirs in zip(val_device.read(eval_batches), val_stream.read(eval_batches),
                          strict=True):
    for key in ("image", "label", "mask"):
      np.testing.assert_array_equal(ours[key], theirs[key])


def _without_timings(records):
  return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def test_device_resident_run_equals_streaming_run(data_dir, tmp_path):
  runs = {}
  for engine in ("device", "stream"):
    config = tiny_config(data_dir, tmp_path / engine, engine=engine)
    config.curriculum.mode, config.curriculum.initial_classes = "on", 2
    config.curriculum.step_classes, config.steps_per_call = 1, 3  # chunks of 3 steps
    config.curriculum.step_epochs = 1
    recipe.train_and_evaluate(config)
    runs[engine] = str(tmp_path / engine)
  device, stream = (_without_timings(read_metrics(runs[e])) for e in ("device", "stream"))
  assert [r["num_classes_seen"] for r in device] == [2, 3, 4]
  for ours, theirs in zip(device, stream, strict=True):
    assert ours.keys() == theirs.keys()
    for key, value in ours.items():
      assert theirs[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
  params = [jax.tree.leaves(predict.load(runs[e], which="latest").params)
            for e in ("device", "stream")]
  for ours, theirs in zip(*params, strict=True):
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_checkpoints_every_n_epochs_plus_best_and_last(data_dir, tmp_path):
  config = tiny_config(data_dir, tmp_path, epochs=7)
  config.checkpoint.every_epochs, config.checkpoint.keep = 3, 1
  summary = recipe.train_and_evaluate(config)
  records = read_metrics(str(tmp_path))
  improved = [r["epoch"] for i, r in enumerate(records)
              if r["val_accuracy"] > max([-1.0] + [p["val_accuracy"] for p in records[:i]])]
  assert improved[-1] == summary["best_epoch"]
  # Test accuracy is measured only when validation improves and at the end.
  assert [r["epoch"] for r in records if "test_accuracy" in r] == sorted(set(improved) | {7})
  kept = sorted(int(name) for name in os.listdir(tmp_path / "checkpoints") if name.isdigit())
  assert kept == sorted({summary["best_epoch"], 7})  # latest 1 + the best
  directory = str(tmp_path / "checkpoints")
  assert checkpoints.find_checkpoint(str(tmp_path)) == (directory, summary["best_epoch"])
  assert checkpoints.find_checkpoint(str(tmp_path), "latest") == (directory, 7)
  meta = checkpoints.read_meta(directory, summary["best_epoch"])
  assert meta["is_best"] and meta["val_accuracy"] == summary["best_val_accuracy"]


def test_eval_permutation_mixes_folded_groups_and_leaves_f1_accuracy(data_dir, tmp_path):
  folded, _ = _trainer(tiny_config(data_dir, tmp_path / "f2", fold=2))
  consecutive = lambda batches: [row[1] - row[0] == 1 for row in batches.indices.reshape(-1, 2)]
  assert all(consecutive(folded.eval_batches("val", "consecutive"))[:32])  # record order
  assert sum(consecutive(folded.eval_batches("val", "permuted"))) < 4  # groups are mixed
  sorted_labels = np.repeat(np.arange(4), 16)  # e.g. a video's consecutive frames
  mixed = sorted_labels[grouping.fixed_permutation(64, 19)].reshape(-1, 2)
  assert (mixed[:, 0] != mixed[:, 1]).sum() > 16
  config = tiny_config(data_dir, tmp_path, fold=1, epochs=2)
  recipe.train_and_evaluate(config)
  trainer, _ = _trainer(config)
  params = steps.replicate(predict.load(str(tmp_path), which="latest").params, trainer.mesh)
  permuted = trainer.evaluate(params, "val", 4, "permuted")
  record_order = trainer.evaluate(params, "val", 4, "consecutive")
  assert permuted["correct"] == record_order["correct"] and permuted["count"] == 64


def test_training_grouping_reaches_both_data_paths(data_dir, tmp_path):
  config = tiny_config(data_dir, tmp_path, fold=2, engine="device")
  config.data.train_grouping = "consecutive"
  trainer, _ = _trainer(config)
  batches = trainer.train_batches(epoch=1, num_classes=4)
  groups = batches.indices[batches.mask].reshape(-1, 2)
  assert (groups[:, 1] - groups[:, 0] == 1).all()  # every folded group: 2 consecutive records
  stream = feeds.StreamSplit(trainer.dataset, "train", trainer.mesh)
  device_batch = next(iter(trainer.splits["train"].read(batches)))
  stream_batch = next(iter(stream.read(batches)))
  np.testing.assert_array_equal(np.asarray(device_batch["image"]),
                                np.asarray(stream_batch["image"]))
  config.data.train_grouping = "independent"
  independent, _ = _trainer(config)
  groups = independent.train_batches(epoch=1, num_classes=4).indices.reshape(-1, 2)
  assert (groups[:, 1] - groups[:, 0] == 1).mean() < 0.2


@pytest.mark.parametrize("field", ["dtype", "param_dtype"])
def test_float16_training_is_refused_with_one_line(data_dir, tmp_path, field):
  config = tiny_config(data_dir, tmp_path)
  config.model[field] = "float16"
  with pytest.raises(ConfigError, match=f"config.model.{field}=float16 cannot train") as error:
    recipe.train_and_evaluate(config)
  assert "\n" not in str(error.value)
  assert not os.path.exists(tmp_path / "checkpoints")


def test_profile_epoch_writes_a_trace(data_dir, tmp_path):
  config = tiny_config(data_dir, tmp_path, epochs=2)
  config.profile_epoch = 2
  recipe.train_and_evaluate(config)
  traces = [name for _, _, names in os.walk(tmp_path / "profile") for name in names]
  assert any(name.endswith(".xplane.pb") for name in traces), traces


def test_config_zero_init_head_reaches_the_trained_model(data_dir, tmp_path):
  from flax import nnx

  from foldedcnn_jax.models import create_model

  config = tiny_config(data_dir, tmp_path)
  config.model.zero_init_head = True
  _, state = _trainer(config)
  settings = make_run_settings(config)
  expected = nnx.state(create_model(settings.spec, seed=config.seed, init=config.model.init,
                                    zero_init_head=True), nnx.Param)
  default = nnx.state(create_model(settings.spec, seed=config.seed, init=config.model.init),
                      nnx.Param)
  got = jax.tree.leaves(state["params"])
  assert all(np.array_equal(a, b) for a, b in zip(got, jax.tree.leaves(expected), strict=True))
  assert not all(np.array_equal(a, b) for a, b in zip(got, jax.tree.leaves(default), strict=True))


@pytest.mark.parametrize("init", ["flax", "authors"])
def test_config_model_init_reaches_the_trained_model(data_dir, tmp_path, init):
  from flax import nnx

  from foldedcnn_jax.models import create_model

  config = tiny_config(data_dir, tmp_path)
  config.model.init = init
  _, state = _trainer(config)
  settings = make_run_settings(config)
  expected = nnx.state(create_model(settings.spec, seed=config.seed, init=init), nnx.Param)
  other = nnx.state(create_model(settings.spec, seed=config.seed,
                                 init="flax" if init == "authors" else "authors"), nnx.Param)
  got = jax.tree.leaves(state["params"])
  assert all(np.array_equal(a, b) for a, b in zip(got, jax.tree.leaves(expected), strict=True))
  assert not all(np.array_equal(a, b) for a, b in zip(got, jax.tree.leaves(other), strict=True))


def test_batch_repetition_trains_each_step_on_the_batch_and_its_shuffles(data_dir, tmp_path):
  config = tiny_config(data_dir, tmp_path, fold=2, epochs=1)
  config.data.batch_repetition = 3
  trainer, _ = _trainer(config)
  batches = trainer.train_batches(0, 4)
  batch_size = make_run_settings(config).batch_size
  plain = pipeline.epoch_batches(trainer.dataset.labels("train"), task_classes=4, seed=0,
                                 epoch=0, batch_size=batch_size)
  assert batches.indices.shape == (plain.num_batches, 3 * batch_size)
  for repeated, original in zip(batches.indices, plain.indices, strict=True):
    for copy in np.split(repeated, 3):
      assert sorted(copy.tolist()) == sorted(original.tolist())
  summary = recipe.train_and_evaluate(config)  # the step takes the 3× wider batches
  assert summary["epochs"] == 1
  record = read_metrics(str(tmp_path))[-1]
  assert record["train_images"] == 3 * plain.num_batches * batch_size
