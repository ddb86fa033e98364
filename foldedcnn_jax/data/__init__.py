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
    "num_examples", "load_split",
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
    scene=None,
) -> str:
  """Builds the task's TFDS dataset unless a complete copy exists; returns its directory.

  Game/toy tasks render synthetic images (`scale` × the registry's split sizes, from `seed`).
  NoScope tasks ingest `video` + `labels_csv`, or, when both are None, first generate the
  embedded synthetic scene video (`scene`: a `scene_video.SceneOptions`, default small).
  `image_folder` reads the authors' `<root>/<task>/{train,val,test}/<class>/*.png` instead.
  Bad input raises DatasetError with one clear line.
  """
  from foldedcnn_jax.data import prepare

  source = _source(data_dir, scale, seed, video, labels_csv, image_folder)
  return prepare.prepare(task_id, source, progress=progress, scene=scene).version_dir


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
