"""The grain pipeline and the data API contract, on the tiny task (plus error handling)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from configs import base
from foldedcnn_jax import data
from foldedcnn_jax.data import builders, pipeline
from foldedcnn_jax.data.common import DatasetError, TrainGroups
from foldedcnn_jax.errors import UserInputError

TINY_SIZES = {"train": 64 * 4, "val": 16 * 4, "test": 16 * 4}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp("data"))
  data.prepare_dataset("tiny", data.Source(directory), progress=False)
  return directory


def _batches(data_dir, split="train", **kwargs):
  kwargs.setdefault("batch_size", 32)
  return list(data.make_batches("tiny", split, data.Source(data_dir), progress=False, **kwargs))


def test_prepare_is_idempotent_and_counts_match(data_dir):
  first = data.prepare_dataset("tiny", data.Source(data_dir), progress=False)
  mtime = os.path.getmtime(os.path.join(first, "dataset_info.json"))
  assert data.prepare_dataset("tiny", data.Source(data_dir), progress=False) == first
  assert os.path.getmtime(os.path.join(first, "dataset_info.json")) == mtime
  for split, size in TINY_SIZES.items():
    assert data.num_examples("tiny", split, data.Source(data_dir), progress=False) == size
  images, labels = data.load_split("tiny", "val", data.Source(data_dir), progress=False)
  assert images.shape == (64, 8, 8, 3) and images.dtype == np.uint8 and labels.dtype == np.int32
  assert np.bincount(labels).tolist() == [16, 16, 16, 16]


@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_batch_shapes_respect_the_fold_factor(data_dir, fold):
  batch_size = 12 * fold
  batches = _batches(data_dir, batch_size=batch_size, fold=fold)
  assert len(batches) == TINY_SIZES["train"] // batch_size
  for batch in batches:
    assert batch["image"].shape == (batch_size, 8, 8, 3) and batch["image"].dtype == np.uint8
    assert batch["label"].shape == (batch_size,) and batch["label"].dtype == np.int32
    assert batch["mask"].dtype == np.bool_ and batch["mask"].all()


def test_batch_size_must_be_a_multiple_of_fold(data_dir):
  with pytest.raises(DatasetError, match="multiple of the fold factor 4"):
    data.make_batches("tiny", "train", data.Source(data_dir), batch_size=30, fold=4)


def test_pad_covers_every_example_exactly_once(data_dir):
  images, labels = data.load_split("tiny", "test", data.Source(data_dir), progress=False)
  batches = _batches(data_dir, "test", batch_size=24, fold=4, remainder="pad", shuffle=False)
  assert len(batches) == 3 and all(b["image"].shape == (24, 8, 8, 3) for b in batches)
  mask = np.concatenate([b["mask"] for b in batches])
  assert mask.sum() == 64 and not mask[64:].any()
  np.testing.assert_array_equal(np.concatenate([b["image"] for b in batches])[:64], images)
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches])[:64], labels)
  assert not batches[-1]["image"][16:].any() and not batches[-1]["label"][16:].any()


@settings(max_examples=15, deadline=None)
@given(fold=st.integers(1, 4), per_fold=st.integers(3, 9), num_classes=st.sampled_from(
    [None, 1, 2, 3, 4]), remainder=st.sampled_from(["drop", "pad"]), shuffle=st.booleans(),
       epoch=st.integers(0, 3))
def test_an_epoch_partitions_the_selected_examples(data_dir, fold, per_fold, num_classes,
                                                   remainder, shuffle, epoch):
  batch_size = fold * per_fold
  kept = 64 * (num_classes or 4)
  batches = _batches(data_dir, batch_size=batch_size, fold=fold, num_classes=num_classes,
                     remainder=remainder, shuffle=shuffle, epoch=epoch, process_index=0,
                     process_count=1)
  assert all(batch["image"].shape[0] == batch_size for batch in batches)
  labels = np.concatenate([batch["label"][batch["mask"]] for batch in batches])
  seen = {image.tobytes() for batch in batches for image in batch["image"][batch["mask"]]}
  expected = kept if remainder == "pad" else kept // batch_size * batch_size
  assert len(labels) == len(seen) == expected  # no example twice
  assert labels.max() < (num_classes or 4)


def test_shuffle_is_a_pure_function_of_seed_and_epoch(data_dir):
  def order(**kwargs):
    return np.concatenate([b["image"] for b in _batches(data_dir, **kwargs)])

  epoch0 = order(epoch=0)
  np.testing.assert_array_equal(epoch0, order(epoch=0))
  epoch1 = order(epoch=1)
  assert not np.array_equal(epoch0, epoch1)
  # Same examples, another order (train has 256 = 8 × 32 examples: nothing dropped).
  def rows(images):
    return sorted(image.tobytes() for image in images)

  assert rows(epoch0) == rows(epoch1)


def test_curriculum_keeps_only_the_first_classes(data_dir):
  batches = _batches(data_dir, num_classes=2, batch_size=16, remainder="pad")
  labels = np.concatenate([b["label"][b["mask"]] for b in batches])
  assert set(labels.tolist()) == {0, 1} and len(labels) == 2 * 64
  assert data.num_examples("tiny", "train", data.Source(data_dir), num_classes=2) == 128
  with pytest.raises(DatasetError, match="num_classes must be an integer in 1..4"):
    data.make_batches("tiny", "train", data.Source(data_dir), batch_size=8, num_classes=5)


def test_host_shards_are_disjoint_and_complete(data_dir):
  shards = [_batches(data_dir, "val", batch_size=8, remainder="pad", process_index=index,
                     process_count=3) for index in range(3)]
  assert len({len(shard) for shard in shards}) == 1  # every host runs the same steps
  seen = [image.tobytes() for shard in shards for batch in shard
          for image, keep in zip(batch["image"], batch["mask"], strict=True) if keep]
  assert len(seen) == 64 and len(set(seen)) == 64


def test_worker_processes_give_the_same_batches(data_dir):
  in_process = _batches(data_dir, batch_size=64)
  workers = _batches(data_dir, batch_size=64, worker_count=1)
  for left, right in zip(in_process, workers, strict=True):
    np.testing.assert_array_equal(left["image"], right["image"])


def test_tiny_is_trivially_learnable(data_dir):
  train_x, train_y = data.load_split("tiny", "train", data.Source(data_dir), progress=False)
  test_x, test_y = data.load_split("tiny", "test", data.Source(data_dir), progress=False)
  # Nearest class mean on (colour, horizontal/vertical edge energy) features.
  def features(images):
    images = images.astype(np.float32)
    return np.concatenate([images.mean((1, 2)),
                           np.abs(np.diff(images, axis=1)).mean((1, 2)),
                           np.abs(np.diff(images, axis=2)).mean((1, 2))], axis=1)

  train_f, test_f = features(train_x), features(test_x)
  means = np.stack([train_f[train_y == c].mean(0) for c in range(4)])
  predicted = np.argmin(((test_f[:, None] - means[None]) ** 2).sum(-1), axis=1)
  assert (predicted == test_y).mean() > 0.9


def test_a_failed_build_never_looks_complete(tmp_path, monkeypatch):
  real = builders.synthetic_examples

  def failing(task, split, recipe):
    for count, example in enumerate(real(task, split, recipe)):
      if split == "val" and count == 10:
        raise DatasetError("simulated crash in the middle of a split")
      yield example

  monkeypatch.setattr(builders, "synthetic_examples", failing)
  with pytest.raises(DatasetError, match="simulated crash"):
    data.prepare_dataset("tiny", data.Source(str(tmp_path)), progress=False)
  completed = [root for root, _, files in os.walk(tmp_path) if "dataset_info.json" in files]
  assert completed == []
  monkeypatch.setattr(builders, "synthetic_examples", real)
  directory = data.prepare_dataset("tiny", data.Source(str(tmp_path)), progress=False)
  assert data.num_examples("tiny", "val", data.Source(str(tmp_path))) == 64
  assert os.path.isfile(os.path.join(directory, "dataset_info.json"))


def test_different_recipes_do_not_collide(tmp_path):
  directories = {data.prepare_dataset("tiny", data.Source(str(tmp_path), scale=scale, seed=seed),
                                      progress=False)
                 for scale, seed in ((1.0, 0), (0.5, 0), (1.0, 1))}
  assert len(directories) == 3
  assert data.num_examples("tiny", "train", data.Source(str(tmp_path), scale=0.5)) == 128


def test_scale_shrinks_train_and_eval_scale_val_and_test(tmp_path):
  small_train = data.Source(str(tmp_path), scale=0.5)
  counts = {split: data.num_examples("tiny", split, small_train, progress=False)
            for split in data.SPLITS}
  assert counts == {"train": 128, "val": 64, "test": 64}  # val/test keep the full size
  both = data.Source(str(tmp_path), scale=0.5, eval_scale=0.5)
  assert [data.num_examples("tiny", split, both, progress=False)
          for split in data.SPLITS] == [128, 32, 32]
  names = {os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(
      data.prepare_dataset("tiny", source, progress=False))))) for source in (small_train, both)}
  # Equal scales keep the directory name they had before eval_scale existed.
  assert names == {"synthetic_scale-0.5_eval-1_seed-0", "synthetic_scale-0.5_seed-0"}
  # The half val split is a subset of the full one (image i is the same at every scale).
  full_val, _ = data.load_split("tiny", "val", small_train, progress=False)
  half_val, _ = data.load_split("tiny", "val", both, progress=False)
  assert {image.tobytes() for image in half_val} < {image.tobytes() for image in full_val}


def test_source_from_a_training_config():
  config = base.get_config()
  config.data.update(data_dir="/somewhere", scale=0.25, eval_scale=0.5, seed=3,
                     image_folder="")
  assert data.Source.from_config(config.data) == data.Source(
      "/somewhere", scale=0.25, eval_scale=0.5, seed=3)
  assert data.Source.from_config(base.get_config().data) == data.Source()


@pytest.mark.parametrize("call, message", [
    (lambda d: data.prepare_dataset("v9", data.Source(d)), "unknown task 'v9'"),
    (lambda d: data.prepare_dataset("g32", data.Source(d)), "benchmark-only"),
    (lambda d: data.prepare_dataset("tiny", data.Source(d, scale=0)), "scale must be"),
    (lambda d: data.prepare_dataset("tiny", data.Source(d, eval_scale=-1)),
     "eval_scale must be"),
    (lambda d: data.prepare_dataset("tiny", data.Source(d, video="x.mp4", labels_csv="x.csv")),
     "only apply to NoScope"),
    (lambda d: data.make_batches("tiny", "dev", data.Source(d), batch_size=8), "unknown split"),
    (lambda d: data.make_batches("tiny", "train", data.Source(d), batch_size=8, remainder="keep"),
     "remainder must be"),
    (lambda d: data.make_batches("tiny", "train", data.Source(d), batch_size=512),
     "fewer than one"),
])
def test_bad_arguments_raise_one_clear_line(data_dir, call, message):
  with pytest.raises(UserInputError, match=message) as error:
    call(data_dir)
  assert "\n" not in str(error.value)


def test_unwritable_data_dir_is_named(tmp_path):
  blocker = tmp_path / "a-file"
  blocker.write_text("")
  with pytest.raises(DatasetError, match="is not writable") as error:
    data.prepare_dataset("tiny", data.Source(str(blocker / "data")), progress=False)
  assert str(blocker / "data") in str(error.value)


def test_importing_and_reading_never_imports_tensorflow(data_dir):
  code = ("import sys; from foldedcnn_jax import data; "
          "assert not {'tensorflow_datasets', 'cv2', 'grain'} & set(sys.modules); "
          f"data.load_split('tiny', 'val', data.Source({data_dir!r}), progress=False); "
          "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
  subprocess.run([sys.executable, "-c", code], check=True)


def _cli(*args, cwd):
  return subprocess.run([sys.executable, "-m", "experiments.make_dataset", *args], cwd=cwd,
                        capture_output=True, text=True)


def test_make_dataset_cli(tmp_path):
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  done = _cli("--task=tiny", f"--data_dir={tmp_path}", "--preview", "--noprogress", cwd=root)
  assert done.returncode == 0, done.stderr
  assert "train: 256 examples (a:64, b:64, c:64, d:64)" in done.stdout
  sheet = done.stdout.split("contact sheet: ")[1].strip()
  assert os.path.isfile(sheet) and open(sheet, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
  failed = _cli("--task=n1", f"--data_dir={tmp_path}", "--video=/missing.mp4",
                "--labels_csv=/missing.csv", cwd=root)
  assert failed.returncode == 2
  assert failed.stderr.strip().splitlines() == ["error: video '/missing.mp4' does not exist "
                                                "(or is not a file)"]


def test_input_repetition_fills_whole_groups_with_their_first_record():
  labels = np.arange(4000) % 10
  order = lambda **groups: pipeline.epoch_order(labels, task_classes=10, seed=3, epoch=1,
                                                groups=TrainGroups(**groups))
  plain = order(fold=4)
  repeated = order(fold=4, input_repetition=0.3)
  groups, before = repeated.reshape(-1, 4), plain.reshape(-1, 4)
  same = (groups == groups[:, :1]).all(axis=1)
  assert 0.25 < same.mean() < 0.35  # each group repeated with probability ρ
  np.testing.assert_array_equal(groups[:, 0], before[:, 0])  # the shuffle itself is unchanged
  np.testing.assert_array_equal(groups[~same], before[~same])
  again = order(fold=4, input_repetition=0.3)
  np.testing.assert_array_equal(again, repeated)  # a pure function of (seed, epoch)
  every = order(fold=4, input_repetition=1.0).reshape(-1, 4)
  assert (every == every[:, :1]).all()
  unfolded = order(fold=1, input_repetition=1.0)
  assert len(np.unique(unfolded)) == len(labels)
