"""Game-text renderer: templates, every class at its size, determinism, disjoint splits."""

import glob
import hashlib
import os

import numpy as np
import pytest

from foldedcnn_jax import data
from foldedcnn_jax.data import builders, render
from foldedcnn_jax.data.common import SPLITS, image_seed
from foldedcnn_jax.tasks import TASKS, get_task

GAME_TASKS = [task for task in TASKS.values() if task.family == "game"]


@pytest.mark.parametrize("task", GAME_TASKS, ids=lambda task: task.id)
def test_every_class_renders_at_the_task_size(task):
  for class_index in range(task.num_classes):
    image = builders.render_example(task.id, 0, "train", class_index, 0)
    assert image.shape == task.input_shape and image.dtype == np.uint8
    assert image.std() > 0  # not a blank array


@pytest.mark.parametrize("task", GAME_TASKS, ids=lambda task: task.id)
def test_template_text_reads_back_as_its_class(task):
  rng = np.random.default_rng(1)
  for class_index, name in enumerate(task.class_names):
    for _ in range(20):
      text = render.template_text(task, class_index, rng)
      assert (text == "") == (name == "other")
      assert render.label_of_text(task, text) == class_index, (task.id, name, text)


@pytest.mark.parametrize("task_id, text, class_name", [
    ("v1", "67.8k", "8"), ("v1", "7.0k", "0"), ("v5", "7.3k", "7"), ("v5", "14.7k", "14"),
    ("v5", "07.3k", "07"), ("v3", "10,438", "10"), ("v3", "438", "0"), ("v6", "30:54", "30"),
    ("v2", "17", "17"), ("v4", "25", "25"), ("v1", "", "other"),
])
def test_labels_follow_the_paper_examples(task_id, text, class_name):
  task = get_task(task_id)
  assert task.class_names[render.label_of_text(task, text)] == class_name


def test_template_instances_vary_beyond_the_label():
  task, rng = get_task("v1"), np.random.default_rng(0)
  texts = {render.template_text(task, 8, rng) for _ in range(50)}
  assert len(texts) > 20 and all(text.endswith(".8k") for text in texts)
  coins = {render.template_text(get_task("v3"), 10, rng) for _ in range(50)}
  assert all(10_000 <= int(text.replace(",", "")) < 11_000 for text in coins)


def test_text_is_drawn_with_contrast():
  rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
  with_text = render.render_text_image(22, 52, "67.8k", rng_a).astype(int)
  without = render.render_text_image(22, 52, "", rng_b).astype(int)
  assert np.abs(with_text - without).max() > 60  # the glyphs stand out from the background


def test_fonts_are_real_truetype_families_with_weights():
  names = [os.path.basename(path) for path in render.font_paths()]
  for family in ("DejaVuSans", "DejaVuSerif", "DejaVuSansMono", "STIXGeneral"):
    assert sum(name.startswith(family) for name in names) >= 2, family  # several weights
  assert len(render.fonts_fingerprint()) == 8


def test_image_seeds_never_repeat_across_splits():
  states = {tuple(image_seed(0, split, label, index).generate_state(4))
            for split in SPLITS for label in range(12) for index in range(30)}
  assert len(states) == len(SPLITS) * 12 * 30


def _split_hashes(task_id, data_dir, **kwargs):
  hashes = {}
  for split in SPLITS:
    images, _ = data.load_split(task_id, split, data.Source(data_dir, **kwargs), progress=False)
    hashes[split] = [hashlib.sha1(image.tobytes()).hexdigest() for image in images]
  return hashes


def _record_file_digests(directory):
  return {os.path.basename(path): hashlib.sha256(open(path, "rb").read()).hexdigest()
          for path in sorted(glob.glob(os.path.join(directory, "*.array_record*")))}


def test_same_seed_same_bytes_and_splits_never_overlap(tmp_path):
  first = data.prepare_dataset("v2", data.Source(str(tmp_path / "a"), scale=0.01, eval_scale=0.01),
                               progress=False)
  second = data.prepare_dataset("v2", data.Source(str(tmp_path / "b"), scale=0.01, eval_scale=0.01),
                                progress=False)
  digests = _record_file_digests(first)
  assert len(digests) == 3 and digests == _record_file_digests(second)
  hashes = _split_hashes("v2", str(tmp_path / "a"), scale=0.01, eval_scale=0.01)
  sizes = {split: len(hashes[split]) for split in SPLITS}
  assert sizes == {"train": 10 * 22, "val": 1 * 22, "test": 1 * 22}
  every = [digest for split in SPLITS for digest in hashes[split]]
  assert len(set(every)) == len(every)  # no image twice, within or across splits
  other_seed = _split_hashes("v2", str(tmp_path / "a"), scale=0.01, eval_scale=0.01, seed=1)
  assert not set(other_seed["train"]) & set(hashes["train"])


def test_worker_processes_render_the_same_images(monkeypatch):
  task, recipe = get_task("v6"), builders.SyntheticRecipe(seed=3, scale=0.01)
  serial = list(builders.synthetic_examples(task, "train", recipe))
  monkeypatch.setattr(builders, "_PARALLEL_MIN_IMAGES", 0)
  monkeypatch.setattr(builders, "_CHUNK", 100)
  parallel = list(builders.synthetic_examples(task, "train", recipe))
  assert [key for key, _, _ in serial] == [key for key, _, _ in parallel]
  for (_, label, image), (_, other_label, other) in zip(serial, parallel, strict=True):
    assert label == other_label
    np.testing.assert_array_equal(image, other)
