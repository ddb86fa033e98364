"""The predictor: fold, pad ragged batches, unfold, name the classes; load from any checkpoint."""

import os

import jax
import numpy as np
import pytest

import foldedcnn_jax
from configs import tiny
from foldedcnn_jax import data, predict
from foldedcnn_jax.bench import rates
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import ModelSpec
from foldedcnn_jax.runtime import execution, folding, tune
from foldedcnn_jax.runtime import grouping as groupings
from foldedcnn_jax.train import recipe, steps
from foldedcnn_jax.train.metrics import read_metrics


@pytest.fixture(autouse=True)
def tune_cache(tmp_path, monkeypatch):
  """Each test tunes into its own cache file, never the user's."""
  path = str(tmp_path / "tune.json")
  monkeypatch.setenv(tune.CACHE_ENV, path)
  return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("data"))
  workdir = str(tmp_path_factory.mktemp("run"))
  config = tiny.get_config("quick")
  config.fold, config.progress, config.workdir, config.data.data_dir = 2, False, workdir, data_dir
  summary = recipe.train_and_evaluate(config)
  images, labels = data.load_split("tiny", "test", data.Source(data_dir))
  order = groupings.fixed_permutation(len(labels), config.eval_permutation_seed)
  return workdir, summary, images[order], labels[order]  # the order training evaluates in


def test_ragged_batch_is_zero_padded_to_whole_groups(run):
  workdir, _, images, _ = run
  predictor = foldedcnn_jax.load(workdir)
  assert predictor.fold == 2 and predictor.class_names == ("a", "b", "c", "d")
  batch = images[:5]  # odd: the last group pairs image 4 with a zero image
  prediction = predictor(batch)
  assert prediction.labels.shape == (5,) and prediction.probabilities.shape == (5, 4)
  np.testing.assert_allclose(prediction.probabilities.sum(-1), 1, rtol=1e-5)
  assert prediction.class_names == tuple("abcd"[i] for i in prediction.labels)
  padded = np.concatenate([batch, np.zeros_like(batch[:1])])
  logits = steps.unfolded_logits(predictor.graphdef, predictor.params, padded, 2)[:5]
  np.testing.assert_allclose(prediction.probabilities, jax.nn.softmax(logits), rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_array_equal(prediction.labels, np.argmax(logits, -1))
  assert predictor(batch[0]).labels.shape == (1,)  # a single (H, W, C) image
  assert len(predictor(batch[:0])) == 0


def test_the_split_a_run_trained_on_loads_from_its_saved_config(run, tmp_path):
  workdir, _, images, labels = run
  predictor = foldedcnn_jax.load(workdir)
  loaded, loaded_labels = data.load_run_split(predictor.task_id, predictor.config, "test",
                                              limit=3)
  expected, expected_labels = data.load_split(
      "tiny", "test", data.Source(predictor.config["data"]["data_dir"]), limit=3)
  np.testing.assert_array_equal(loaded, expected)
  np.testing.assert_array_equal(loaded_labels, expected_labels)
  # A run from before the data fields existed: the former defaults, under `data_dir`.
  with pytest.raises(data.DatasetError, match="no-such-dir/synthetic_scale-1_seed-0' is not"):
    data.load_run_split("tiny", {"data": {}}, "test", data_dir="/proc/no-such-dir")


def test_chunking_does_not_change_predictions(run):
  workdir, _, images, _ = run
  whole = foldedcnn_jax.load(workdir)(images[:11])
  chunked = predict.load(workdir, batch_images=4)(images[:11])  # chunks of 4, 4, 3
  np.testing.assert_array_equal(whole.labels, chunked.labels)
  np.testing.assert_allclose(whole.probabilities, chunked.probabilities, rtol=1e-5, atol=1e-6)


def test_accuracy_equals_the_best_epochs_test_accuracy(run):
  workdir, summary, images, labels = run
  predictor = predict.load(workdir, which="best")
  best = next(r for r in read_metrics(workdir) if r["epoch"] == summary["best_epoch"])
  assert predictor.accuracy(images, labels) == pytest.approx(best["test_accuracy"], abs=1e-9)
  assert best["test_accuracy"] >= 0.9


def test_loads_from_checkpoint_directories(run):
  workdir, summary, images, _ = run
  best_dir = os.path.join(workdir, "checkpoints")  # one manager: best and latest side by side
  step_dir = os.path.join(best_dir, str(summary["best_epoch"]))
  expected = predict.load(workdir)(images[:7]).labels
  for path in (best_dir, step_dir):
    np.testing.assert_array_equal(predict.load(path)(images[:7]).labels, expected)
  latest = predict.load(workdir, which="latest")
  assert latest.checkpoint.endswith(f"checkpoints/{summary['epochs']}")


@pytest.mark.parametrize("images, message", [
    (np.zeros((3, 8, 9, 3), np.uint8), r"must be uint8 \(N, 8, 8, 3\).*got uint8 \(3, 8, 9, 3\)"),
    (np.zeros((3, 8, 8, 3), np.float32), r"must be uint8 .*got float32"),
    (np.zeros((8, 8), np.uint8), r"must be uint8 .*got uint8 \(8, 8\)"),
])
def test_bad_images_fail_with_one_line(run, images, message):
  with pytest.raises(UserInputError, match=message) as error:
    foldedcnn_jax.load(run[0])(images)
  assert "\n" not in str(error.value)


def test_untrained_predictor_times_an_unfolded_model():
  spec = ModelSpec.for_task("tiny", fold=1)
  predictor = predict.Predictor.untrained(spec, ("a", "b", "c", "d"), batch_images=64)
  assert rates.model_images_per_second(predictor.runner, num_images=128, trials=1) > 0
  assert predictor(np.zeros((3, 8, 8, 3), np.uint8)).labels.shape == (3,)


def test_folded_logits_run_the_tuned_model_on_device_batches(run, tune_cache):
  workdir, _, images, _ = run
  predictor = foldedcnn_jax.load(workdir, batch_images=16)
  folded = jax.device_put(folding.fold(images[:16], 2))
  logits = predictor.folded_logits(folded)
  assert isinstance(logits, jax.Array) and logits.shape == (8, 2 * 4)
  assert predictor.variant in tune.candidates("cpu", predictor.spec)
  np.testing.assert_allclose(folding.unfold(np.asarray(logits), 2, num_images=16),
                             predictor.logits(images[:16]), rtol=1e-6)
  cached = foldedcnn_jax.load(workdir, batch_images=16)
  assert cached.variant == predictor.variant and cached.runner.choice.source == "cache"
  untuned = foldedcnn_jax.load(workdir, batch_images=16, tune_mode="off")
  assert untuned.variant == execution.Variant()
  np.testing.assert_allclose(untuned.folded_logits(folded), logits, rtol=1e-5, atol=1e-5)
  ragged = predictor.folded_logits(np.asarray(folded)[:3])  # another shape compiles once more
  np.testing.assert_allclose(ragged, np.asarray(logits)[:3], rtol=1e-5, atol=1e-5)


def _grouped_logits(predictor, images, order):
  """Logits of `images` folded in `order` (consecutive f entries share an input), per image."""
  folded_in_order = predictor.logits(images[order])
  logits = np.empty_like(folded_in_order)
  logits[order] = folded_in_order
  return logits


@pytest.mark.parametrize("grouping", ["strided", "permuted"])
def test_groupings_fold_the_expected_images_and_keep_frame_order(run, grouping):
  workdir, _, images, _ = run
  predictor = foldedcnn_jax.load(workdir)
  frames = images[:9]  # ragged: 9 frames at f = 2
  order = groupings.group_order(9, grouping=grouping, fold=2)
  np.testing.assert_allclose(predictor.logits(frames, grouping),
                             _grouped_logits(predictor, frames, order), rtol=1e-6)
  assert not np.allclose(predictor.logits(frames, grouping), predictor.logits(frames))
  assert predictor(frames, grouping).labels.shape == (9,)


def test_interleaved_streams_fold_frame_t_of_each_stream(run):
  workdir, _, images, _ = run
  predictor = foldedcnn_jax.load(workdir)
  first, second, third = images[:4], images[4:7], images[7:12]  # lengths 4, 3, 5
  results = predictor.interleaved([first, second, third])
  assert [len(result) for result in results] == [4, 3, 5]
  # stream 0 is paired with stream 1 (frame t with frame t), stream 2 with zero frames.
  zero = np.zeros_like(images[:1])
  pairs = np.concatenate([np.stack([first[t], second[t] if t < 3 else zero[0]])
                          for t in range(4)])
  expected = predictor.logits(pairs).reshape(4, 2, -1)
  np.testing.assert_allclose(results[0].probabilities,
                             jax.nn.softmax(expected[:, 0]), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(results[1].probabilities,
                             jax.nn.softmax(expected[:3, 1]), rtol=1e-5, atol=1e-6)
  alone = np.concatenate([np.stack([frame, zero[0]]) for frame in third])
  np.testing.assert_allclose(results[2].probabilities,
                             jax.nn.softmax(predictor.logits(alone)[::2]), rtol=1e-5, atol=1e-6)
