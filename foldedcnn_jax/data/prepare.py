"""Where each dataset lives on disk, and building it there once (idempotent, never half-done).

Layout: `<data_dir>/<variant>/<builder>/<task>/<version>/` where `<variant>` names everything the
examples depend on (scale and seed; or the video's content digest; or the image folder), so
different recipes never collide. TFDS writes into an `incomplete.*` directory and renames it
only when every split is written, so an interrupted build never looks complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import io
import os

import numpy as np

from foldedcnn_jax.data.common import (
    DatasetError,
    Source,
    check_scale,
    check_split,
    ensure_writable_dir,
)
from foldedcnn_jax.files import atomic_path
from foldedcnn_jax.tasks import Task, get_task

_HASH_BYTES = 4 << 20  # a video's digest reads its first and last 4 MiB (plus its size)


@dataclasses.dataclass(frozen=True)
class Location:
  builder_name: str  # TFDS dataset name, e.g. "game_text"
  data_dir: str  # the TFDS data_dir of this variant
  task_id: str

  @property
  def name(self) -> str:
    return f"{self.builder_name}/{self.task_id}"

  @property
  def version_dir(self) -> str:
    from foldedcnn_jax.data.builders import _TaskBuilder

    return os.path.join(self.data_dir, self.builder_name, self.task_id,
                        str(_TaskBuilder.VERSION))


def _file_digest(path: str, whole: bool) -> str:
  digest = hashlib.sha1()
  size = os.path.getsize(path)
  digest.update(str(size).encode())
  with open(path, "rb") as handle:
    if whole or size <= 2 * _HASH_BYTES:
      for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    else:
      digest.update(handle.read(_HASH_BYTES))
      handle.seek(size - _HASH_BYTES)
      digest.update(handle.read(_HASH_BYTES))
  return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _cached_digest(path: str, size: int, mtime_ns: int, whole: bool) -> str:
  del size, mtime_ns  # cache keys: a changed file gets a fresh digest
  return _file_digest(path, whole)


def _digest(path: str, whole: bool) -> str:
  stat = os.stat(path)
  return _cached_digest(os.path.abspath(path), stat.st_size, stat.st_mtime_ns, whole)


@functools.lru_cache(maxsize=16)
def _folder_digest(root: str, task_id: str) -> str:
  """A digest of the names, sizes and mtimes under `<root>/<task>/`: edits make a new variant."""
  digest = hashlib.sha1(root.encode())
  for directory, subdirectories, files in os.walk(os.path.join(root, task_id)):
    subdirectories.sort()
    for name in sorted(files):
      stat = os.stat(os.path.join(directory, name))
      digest.update(f"{os.path.relpath(directory, root)}/{name}:{stat.st_size}:"
                    f"{stat.st_mtime_ns};".encode())
  return digest.hexdigest()[:12]


def _require_file(path: str, what: str) -> str:
  if not os.path.isfile(path):
    raise DatasetError(f"{what} {path!r} does not exist (or is not a file)")
  return path


def _slug(text: str) -> str:
  return "".join(char if char.isalnum() or char in "-." else "-" for char in text)[:40]


def _variant(task: Task, source: Source) -> str:
  """The directory name that separates this recipe's files from every other recipe's."""
  scale = f"scale-{source.scale:g}"
  if source.eval_scale != source.scale:  # equal scales keep the name they always had
    scale += f"_eval-{source.eval_scale:g}"
  if source.image_folder is not None:
    root = os.path.abspath(source.image_folder)
    return f"folder-{_slug(os.path.basename(root))}-{_folder_digest(root, task.id)}"
  if task.family == "noscope":
    digest = hashlib.sha1(
        (_digest(source.video, whole=False) + _digest(source.labels_csv, whole=True)).encode()
    ).hexdigest()[:12]
    stem = _slug(os.path.splitext(os.path.basename(source.video))[0])
    return f"video-{stem}-{digest}_{scale}"
  if task.family == "game":
    from foldedcnn_jax.data import render

    return f"synthetic_{scale}_seed-{source.seed}_fonts-{render.fonts_fingerprint()}"
  return f"synthetic_{scale}_seed-{source.seed}"


def _checked(task_id: str, source: Source) -> tuple[Task, Source]:
  task = get_task(task_id)
  check_scale(source.scale)
  check_scale(source.eval_scale, "eval_scale")
  if isinstance(source.seed, bool) or not isinstance(source.seed, (int, np.integer)):
    raise DatasetError(f"seed must be an integer, got {source.seed!r}")
  if source.seed < 0:
    raise DatasetError(f"seed must be >= 0, got {source.seed}")
  if task.benchmark_only:
    raise DatasetError(f"task {task.id} is benchmark-only and has no dataset")
  if (source.video is None) != (source.labels_csv is None):
    raise DatasetError("give both video and labels_csv (a NoScope video and its label CSV), "
                       "or neither for the embedded synthetic scene video")
  if source.video is not None:
    if task.family != "noscope":
      raise DatasetError(f"video/labels_csv only apply to NoScope tasks (n1..n4), not {task.id}")
    _require_file(source.video, "video")
    _require_file(source.labels_csv, "labels CSV")
  if source.image_folder is not None:
    if task.family != "game":
      raise DatasetError(f"image_folder only applies to game tasks (v1..v6), not {task.id}")
    if not os.path.isdir(os.path.join(source.image_folder, task.id)):
      raise DatasetError(f"image folder {source.image_folder!r} has no {task.id}/ directory "
                         "(expected <root>/<task>/{train,val,test}/<class>/*.png)")
  return task, source


def _with_synthetic_video(task: Task, source: Source, progress: bool) -> Source:
  """NoScope without a video: generate (once) the embedded synthetic scene video + CSV."""
  if task.family != "noscope" or source.video is not None:
    return source
  from foldedcnn_jax.data import scene_video

  video, labels_csv = scene_video.ensure_scene_video(
      task, os.path.join(source.root, "videos"), seed=source.seed, progress=progress)
  return dataclasses.replace(source, video=video, labels_csv=labels_csv)


def _builder_class(task: Task, source: Source):
  from foldedcnn_jax.data import builders

  if source.image_folder is not None:
    return builders.AuthorsImageFolder
  return builders.BUILDERS[task.family]


def _recipe(task: Task, source: Source, progress: bool):
  from foldedcnn_jax.data import builders

  if source.image_folder is not None:
    return builders.FolderRecipe(os.path.abspath(source.image_folder))
  if task.family == "noscope":
    from foldedcnn_jax.data import noscope  # OpenCV loads only for video tasks

    return noscope.Ingest(task, source.video, source.labels_csv, scale=source.scale,
                          eval_scale=source.eval_scale, progress=progress)
  return builders.SyntheticRecipe(source.seed, source.scale, source.eval_scale)


def _resolve(task_id: str, source: Source, progress: bool) -> tuple[Task, Source, Location]:
  task, source = _checked(task_id, source)
  source = _with_synthetic_video(task, source, progress)
  location = Location(_builder_class(task, source).name,
                      os.path.join(source.root, _variant(task, source)), task.id)
  return task, source, location


def locate(task_id: str, source: Source, *, progress: bool = True) -> Location:
  """Checks the request and says where its dataset lives (generating a scene video if needed)."""
  return _resolve(task_id, source, progress)[2]


def _is_complete(location: Location) -> bool:
  return os.path.isfile(os.path.join(location.version_dir, "dataset_info.json"))


@contextlib.contextmanager
def _quiet(progress: bool):
  import tensorflow_datasets as tfds

  if progress:
    yield
    return
  tfds.display_progress_bar(False)
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      yield
  finally:
    tfds.display_progress_bar(True)


def dataset_location(task_id: str, source: Source, *, progress: bool = True) -> Location:
  """Builds the dataset unless a complete copy exists; returns where it lives."""
  task, source, location = _resolve(task_id, source, progress)
  if _is_complete(location):
    return location
  recipe = _recipe(task, source, progress)  # checks the inputs before anything is written
  ensure_writable_dir(location.data_dir)
  lock_path = os.path.join(location.data_dir, f".{location.builder_name}-{task.id}.lock")
  with open(lock_path, "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits, then finds it complete
    if not _is_complete(location):
      builder = _builder_class(task, source)(
          config=task.id, data_dir=location.data_dir, file_format="array_record",
          recipe=recipe)
      with _quiet(progress):
        builder.download_and_prepare(download_dir=os.path.join(location.data_dir, "downloads"))
  return location


@functools.lru_cache(maxsize=64)
def _data_source(name: str, data_dir: str, split: str):
  import tensorflow_datasets as tfds

  return tfds.data_source(name, split=split, data_dir=data_dir, download=False)


def data_source(location: Location, split: str):
  """The split as a random-access `tfds.data_source` (array_record; no TensorFlow)."""
  return _data_source(location.name, location.data_dir, check_split(split))


@functools.lru_cache(maxsize=64)
def _labels(version_dir: str, name: str, data_dir: str, split: str) -> np.ndarray:
  cache = os.path.join(version_dir, f"labels-{split}.npy")
  if os.path.isfile(cache):
    return np.load(cache)
  source = _data_source(name, data_dir, split)
  labels = np.zeros(len(source), np.int32)
  for start in range(0, len(source), 4096):
    indices = list(range(start, min(start + 4096, len(source))))
    labels[start:start + len(indices)] = [example["label"] for example in
                                          source.__getitems__(indices)]
  with contextlib.suppress(OSError), atomic_path(cache) as temporary:  # read-only dirs: no cache
    with open(temporary, "wb") as handle:
      np.save(handle, labels)
  return labels


def split_labels(location: Location, split: str) -> np.ndarray:
  """Every label of a split in record order (read once, then cached next to the records)."""
  return _labels(location.version_dir, location.name, location.data_dir, check_split(split))
