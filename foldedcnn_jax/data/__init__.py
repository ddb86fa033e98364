"""Datasets of the paper's tasks: generated game-text images, NoScope video frames, a tiny toy
task; stored as TFDS array_record datasets and read through a grain pipeline.

Every function takes the task, and a `Source` saying which data of it (directory, scale, seed,
video, image folder); `Source()` is the default data of the task. Importing this package is light
(no TensorFlow ever; TFDS, grain, OpenCV load when used):

  source = Source(scale=0.1)  # a tenth of the paper's train split; val/test at full size
  images, labels = load_split("tiny", "test")
  for batch in make_batches("v1", "train", source, batch_size=256, fold=4, epoch=0): ...
  # (the batches training makes: same order, folded groups, padding and per-process shares)
"""

from __future__ import annotations

import numpy as np

from foldedcnn_jax.data.common import SPLITS, DatasetError, Source, default_data_dir
from foldedcnn_jax.data.pipeline import load_run_split, load_split, make_batches, num_examples

__all__ = [
    "SPLITS", "DatasetError", "Source", "default_data_dir", "prepare_dataset", "make_batches",
    "num_examples", "load_split", "load_run_split", "write_preview", "scene_video_paths",
    "split_labels",
]


def prepare_dataset(task_id: str, source: Source | None = None, *, progress: bool = True) -> str:
  """Builds the task's TFDS dataset unless a complete copy exists; returns its directory.

  Game/toy tasks render synthetic images (`source.scale` × the registry's train split size and
  `source.eval_scale` × val/test, from `source.seed`). NoScope tasks ingest `source.video` +
  `source.labels_csv`, or, when both are None, first generate the embedded synthetic scene video
  with default options (other options: `scene_video_paths`). `source.image_folder` reads the
  authors' `<root>/<task>/{train,val,test}/<class>/*.png` instead. Bad input raises DatasetError
  with one clear line.
  """
  from foldedcnn_jax.data import prepare

  return prepare.dataset_location(task_id, source or Source(), progress=progress).version_dir


def scene_video_paths(task_id: str, data_dir: str | None = None, *, seed: int = 0, scene=None,
                      progress: bool = True) -> tuple[str, str]:
  """(video, labels CSV) of a NoScope task's synthetic scene video, generated once.

  `scene` is a `scene_video.SceneOptions` (length, object frequency, size); pass the returned
  paths as a Source's `video`/`labels_csv` to use a non-default scene everywhere else.
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


def split_labels(task_id: str, split: str, source: Source | None = None, *,
                 progress: bool = True) -> np.ndarray:
  """Every label of a split in record order (int32), without decoding the images twice."""
  from foldedcnn_jax.data import prepare

  location = prepare.dataset_location(task_id, source or Source(), progress=progress)
  return prepare.split_labels(location, split)


def write_preview(task_id: str, source: Source | None = None, *, split: str = "train",
                  per_class: int = 8, path: str | None = None, progress: bool = True) -> str:
  """Writes a contact sheet PNG (per_class samples of each class of a split); returns its path.

  Default path: `<data_dir>/previews/<task>_<variant>_<split>.png`.
  """
  import os

  from foldedcnn_jax.data import prepare, preview
  from foldedcnn_jax.tasks import get_task

  source = source or Source()
  location = prepare.dataset_location(task_id, source, progress=progress)
  images, labels = load_split(task_id, split, source, progress=progress)
  if path is None:
    variant = os.path.basename(location.data_dir)
    path = os.path.join(os.path.dirname(location.data_dir), "previews",
                        f"{task_id}_{variant}_{split}.png")
  return preview.write_contact_sheet(get_task(task_id), images, labels, path, per_class)
