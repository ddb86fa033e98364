"""Datasets of the paper's tasks: generated game-text images, NoScope video frames, a tiny toy
task; stored as TFDS array_record datasets and read through a grain pipeline.

Importing this package is light (no TensorFlow ever; TFDS, grain, OpenCV load when used):

  images, labels = load_split("tiny", "test")
  for batch in make_batches("v1", "train", batch_size=256, fold=4, epoch=0): ...
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from foldedcnn_jax.data.common import SPLITS, DatasetError, default_data_dir

__all__ = [
    "SPLITS", "DatasetError", "default_data_dir", "prepare_dataset", "make_batches",
    "num_examples", "load_split", "write_preview", "scene_video_paths", "split_labels",
]


def _source(data_dir, scale, seed, video, labels_csv, image_folder):
  from foldedcnn_jax.data.prepare import Source

  return Source(data_dir=data_dir, scale=scale, seed=seed, video=video, labels_csv=labels_csv,
                image_folder=image_folder)


def prepare_dataset(
    task_id: str,
    data_dir: str | None = None,
    *,
    scale: float = 1.0,
    seed: int = 0,
    video: str | None = None,
    labels_csv: str | None = None,
    progress: bool = True,
    image_folder: str | None = None,
) -> str:
  """Builds the task's TFDS dataset unless a complete copy exists; returns its directory.

  Game/toy tasks render synthetic images (`scale` × the registry's split sizes, from `seed`).
  NoScope tasks ingest `video` + `labels_csv`, or, when both are None, first generate the
  embedded synthetic scene video with default options (other options: `scene_video_paths`).
  `image_folder` reads the authors' `<root>/<task>/{train,val,test}/<class>/*.png` instead.
  Bad input raises DatasetError with one clear line.
  """
  from foldedcnn_jax.data import prepare

  source = _source(data_dir, scale, seed, video, labels_csv, image_folder)
  return prepare.prepare(task_id, source, progress=progress).version_dir


def scene_video_paths(task_id: str, data_dir: str | None = None, *, seed: int = 0, scene=None,
                      progress: bool = True) -> tuple[str, str]:
  """(video, labels CSV) of a NoScope task's synthetic scene video, generated once.

  `scene` is a `scene_video.SceneOptions` (length, object frequency, size); pass the returned
  paths as `video`/`labels_csv` to use a non-default scene everywhere else.
  """
  import os

  from foldedcnn_jax.data import scene_video
  from foldedcnn_jax.tasks import get_task

  task = get_task(task_id)
  if task.family != "noscope":
    raise DatasetError(f"task {task_id} is not a NoScope task (n1..n4) and has no scene video")
  directory = os.path.join(data_dir or default_data_dir(), "videos")
  return scene_video.ensure_scene_video(task, directory, seed=seed, options=scene,
                                        progress=progress)


def split_labels(
    task_id: str,
    split: str,
    *,
    data_dir: str | None = None,
    scale: float = 1.0,
    seed: int = 0,
    video: str | None = None,
    labels_csv: str | None = None,
    image_folder: str | None = None,
    progress: bool = True,
) -> np.ndarray:
  """Every label of a split in record order (int32), without decoding the images twice."""
  from foldedcnn_jax.data import prepare

  source = _source(data_dir, scale, seed, video, labels_csv, image_folder)
  return prepare.split_labels(prepare.prepare(task_id, source, progress=progress), split)


def make_batches(
    task_id: str,
    split: str,
    *,
    batch_size: int,
    data_dir: str | None = None,
    scale: float = 1.0,
    seed: int = 0,
    fold: int = 1,
    epoch: int = 0,
    shuffle: bool = True,
    num_classes: int | None = None,
    remainder: str = "drop",
    worker_count: int = 0,
    video: str | None = None,
    labels_csv: str | None = None,
    image_folder: str | None = None,
    shard_index: int | None = None,
    shard_count: int | None = None,
    progress: bool = True,
) -> Iterator[dict[str, np.ndarray]]:
  """One epoch of host-local batches {"image": uint8 (B,H,W,C), "label": int32, "mask": bool}.

  Built with grain over `tfds.data_source`; prepares the dataset first if it is missing.
  `batch_size` must be a multiple of `fold`. The order is a pure function of (seed, epoch).
  `num_classes=n` keeps labels < n (curriculum). `remainder="drop"` drops the last partial
  batch; "pad" fills it with zero images, label 0, mask False. Hosts read disjoint shards
  (`shard_index`/`shard_count`, default `jax.process_index()`/`jax.process_count()`).
  """
  from foldedcnn_jax.data import pipeline

  return pipeline.make_batches(
      task_id, split, source=_source(data_dir, scale, seed, video, labels_csv, image_folder),
      batch_size=batch_size, fold=fold, epoch=epoch, shuffle=shuffle, num_classes=num_classes,
      remainder=remainder, worker_count=worker_count, shard_index=shard_index,
      shard_count=shard_count, progress=progress)


def num_examples(
    task_id: str,
    split: str,
    *,
    data_dir: str | None = None,
    scale: float = 1.0,
    seed: int = 0,
    num_classes: int | None = None,
    video: str | None = None,
    labels_csv: str | None = None,
    image_folder: str | None = None,
    progress: bool = True,
) -> int:
  """Examples in a split (with label < num_classes when given); prepares it if missing."""
  from foldedcnn_jax.data import pipeline

  return pipeline.num_examples(
      task_id, split, source=_source(data_dir, scale, seed, video, labels_csv, image_folder),
      num_classes=num_classes, progress=progress)


def load_split(
    task_id: str,
    split: str,
    *,
    data_dir: str | None = None,
    scale: float = 1.0,
    seed: int = 0,
    limit: int | None = None,
    video: str | None = None,
    labels_csv: str | None = None,
    image_folder: str | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
  """A split as arrays: images uint8 (N, H, W, C), labels int32 (N,); first `limit` records."""
  from foldedcnn_jax.data import pipeline

  return pipeline.load_split(
      task_id, split, source=_source(data_dir, scale, seed, video, labels_csv, image_folder),
      limit=limit, progress=progress)


def write_preview(
    task_id: str,
    data_dir: str | None = None,
    *,
    split: str = "train",
    per_class: int = 8,
    path: str | None = None,
    scale: float = 1.0,
    seed: int = 0,
    video: str | None = None,
    labels_csv: str | None = None,
    image_folder: str | None = None,
    progress: bool = True,
) -> str:
  """Writes a contact sheet PNG (per_class samples of each class of a split); returns its path.

  Default path: `<data_dir>/previews/<task>_<variant>_<split>.png`.
  """
  import os

  from foldedcnn_jax.data import pipeline, prepare, preview
  from foldedcnn_jax.tasks import get_task

  source = _source(data_dir, scale, seed, video, labels_csv, image_folder)
  location = prepare.prepare(task_id, source, progress=progress)
  images, labels = pipeline.load_split(task_id, split, source=source, progress=progress)
  if path is None:
    variant = os.path.basename(location.data_dir)
    path = os.path.join(os.path.dirname(location.data_dir), "previews",
                        f"{task_id}_{variant}_{split}.png")
  return preview.write_contact_sheet(get_task(task_id), images, labels, path, per_class)
