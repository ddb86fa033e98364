"""TFDS builders, one per task family (configs per task), writing array_record files of plain
uint8/int tensors, so neither building nor reading needs TensorFlow.

Each builder takes a `recipe` (how to make the examples: seed and scale, or a video and its
label CSV, or a folder of PNGs) at construction; readers never need it, since `tfds.data_source`
reads the finished files. `prepare.py` picks the data dir so that different recipes never
share one.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Iterator

import numpy as np
import tensorflow_datasets as tfds

from foldedcnn_jax.data import render, toy
from foldedcnn_jax.data.common import SPLITS, DatasetError, image_rng, scaled_count
from foldedcnn_jax.tasks import TASKS, Task, get_task

# Builds at least this big render in worker processes (spawned: safe after jax is imported).
_PARALLEL_MIN_IMAGES = 20_000
_CHUNK = 512


@dataclasses.dataclass(frozen=True)
class SyntheticRecipe:
  seed: int = 0
  scale: float = 1.0  # the train split's
  eval_scale: float = 1.0  # val's and test's


@dataclasses.dataclass(frozen=True)
class FolderRecipe:
  root: str


def _image_features(task: Task, **extra) -> tfds.features.FeaturesDict:
  return tfds.features.FeaturesDict({
      # Raw bytes, not a protobuf int list: ~5× faster to write and faster to read.
      "image": tfds.features.Tensor(shape=task.input_shape, dtype=np.uint8,
                                    encoding=tfds.features.Encoding.BYTES),
      "label": tfds.features.Tensor(shape=(), dtype=np.int32),
      **extra,
  })


def _configs(family: str) -> list[tfds.core.BuilderConfig]:
  return [
      tfds.core.BuilderConfig(name=task.id, description=task.name)
      for task in TASKS.values() if task.family == family
  ]


class _TaskBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Shared plumbing: the config names a task; the recipe says how to make its examples."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.0.0": "First release.", "1.1.0": "Images stored as raw bytes."}
  _SHUFFLE = True  # TFDS's deterministic key-hash shuffle; off where order carries meaning

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls):
    # No checksums file or dataset metadata beside the code (nothing is downloaded); this also
    # keeps TFDS from importing `importlib_resources` to look for them.
    return None

  def __init__(self, *, recipe=None, **kwargs):
    self._recipe = recipe
    super().__init__(**kwargs)

  @property
  def task(self) -> Task:
    return get_task(self.builder_config.name)

  def _features(self) -> tfds.features.FeaturesDict:
    return _image_features(self.task)

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=f"foldedcnn_jax task {self.task.id} ({self.task.name}).",
        features=self._features(),
        supervised_keys=("image", "label"),
        disable_shuffling=not self._SHUFFLE,
        metadata=tfds.core.MetadataDict(class_names=list(self.task.class_names)),
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    if self._recipe is None:
      raise DatasetError(f"{self.name}/{self.task.id} is not built; call prepare_dataset first")
    return {split: self._generate_examples(split) for split in SPLITS}


# ---- synthetic families: game text and the tiny toy task -----------------------------------

def render_example(task_id: str, seed: int, split: str, class_index: int, index: int):
  """One generated image; a module-level function so worker processes can run it."""
  task = get_task(task_id)
  draw = toy.render_image if task.family == "toy" else render.render_image
  return draw(task, class_index, image_rng(seed, split, class_index, index))


def _render_chunk(job: tuple[str, int, str, list[tuple[int, int]]]) -> list[np.ndarray]:
  task_id, seed, split, items = job
  return [render_example(task_id, seed, split, label, index) for label, index in items]


def synthetic_examples(task: Task, split: str, recipe: SyntheticRecipe) -> Iterator[tuple]:
  """(key, label, image) for every generated image of a split, in a fixed order."""
  scale = recipe.scale if split == "train" else recipe.eval_scale
  per_class = scaled_count(getattr(task.split_sizes, split), scale)
  items = [(label, index) for label in range(task.num_classes) for index in range(per_class)]
  chunks = [items[start:start + _CHUNK] for start in range(0, len(items), _CHUNK)]
  jobs = [(task.id, recipe.seed, split, chunk) for chunk in chunks]
  workers = min(os.cpu_count() or 1, 4)
  if len(items) >= _PARALLEL_MIN_IMAGES and workers > 1:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
      for chunk, images in zip(chunks, pool.imap(_render_chunk, jobs), strict=True):
        for (label, index), image in zip(chunk, images, strict=True):
          yield f"{label}-{index}", label, image
  else:
    for chunk, job in zip(chunks, jobs, strict=True):
      for (label, index), image in zip(chunk, _render_chunk(job), strict=True):
        yield f"{label}-{index}", label, image


class _SyntheticBuilder(_TaskBuilder, skip_registration=True):
  def _generate_examples(self, split: str):
    for key, label, image in synthetic_examples(self.task, split, self._recipe):
      yield key, {"image": image, "label": np.int32(label)}


class GameText(_SyntheticBuilder):
  """Game-scraping text classifiers v1..v6, rendered from per-class text templates."""

  BUILDER_CONFIGS = _configs("game")


class ToyPatterns(_SyntheticBuilder):
  """The tiny test-only task: coloured stripe patterns, trivially learnable."""

  BUILDER_CONFIGS = _configs("toy")


# ---- NoScope video frames ------------------------------------------------------------------

class NoScopeFrames(_TaskBuilder):
  """NoScope binary video filters n1..n4: 50×50 frames of three consecutive video chunks."""

  BUILDER_CONFIGS = _configs("noscope")
  _SHUFFLE = False  # keep frames in time order; the pipeline shuffles

  def _features(self):
    return _image_features(self.task, frame=tfds.features.Tensor(shape=(), dtype=np.int64))

  # The recipe is a `noscope.Ingest`: built (and so validated) before TFDS starts writing.
  def _generate_examples(self, split: str):
    for frame, label, image in self._recipe.examples(split):
      yield frame, {"image": image, "label": np.int32(label), "frame": np.int64(frame)}


# ---- the authors' published layout: <root>/<task>/{train,val,test}/<class>/*.png -----------

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def folder_examples(task: Task, root: str, split: str) -> Iterator[tuple[str, int, np.ndarray]]:
  """(key, label, image) for every image file of `<root>/<task>/<split>/<class>/`."""
  from PIL import Image

  split_dir = os.path.join(root, task.id, split)
  if not os.path.isdir(split_dir):
    raise DatasetError(
        f"{split_dir} is missing: expected <root>/<task>/{{train,val,test}}/<class>/*.png")
  unknown = sorted(set(os.listdir(split_dir)) - set(task.class_names))
  if unknown:
    raise DatasetError(f"{split_dir} has class folders {unknown} that task {task.id} does not "
                       f"have; its classes are {', '.join(task.class_names)}")
  height, width = task.input_hw
  for label, name in enumerate(task.class_names):
    class_dir = os.path.join(split_dir, name)
    files = sorted(os.listdir(class_dir)) if os.path.isdir(class_dir) else []
    for file_name in files:
      if not file_name.lower().endswith(_IMAGE_SUFFIXES):
        continue
      path = os.path.join(class_dir, file_name)
      try:
        with Image.open(path) as opened:
          image = opened.convert("RGB")
      except OSError as error:
        raise DatasetError(f"{path} is not a readable image: {error}") from None
      if image.size != (width, height):  # crops of other sizes are resized to the task's input
        image = image.resize((width, height), Image.BILINEAR)
      yield f"{name}/{file_name}", label, np.asarray(image, np.uint8)


class AuthorsImageFolder(_TaskBuilder):
  """The authors' released images of the game tasks, read from their folder layout."""

  BUILDER_CONFIGS = _configs("game")

  def _generate_examples(self, split: str):
    for key, label, image in folder_examples(self.task, self._recipe.root, split):
      yield key, {"image": image, "label": np.int32(label)}


BUILDERS = {"game": GameText, "toy": ToyPatterns, "noscope": NoScopeFrames}
