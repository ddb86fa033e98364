"""NoScope video ingest: label frames from the detection CSV, cut the video into equal
contiguous chunks, and stream the train/val/test chunks as 50×50 frames (nearest neighbour,
as NoScope resizes), never holding the video in memory.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterator

import numpy as np

from foldedcnn_jax.data.common import SPLITS, DatasetError
from foldedcnn_jax.tasks import Task

REQUIRED_COLUMNS = ("frame", "object_name")
# FFmpeg's own log level (AV_LOG_QUIET): OpenCV reads it once, at its first FFmpeg call in the
# process, so it is set before any video opens; otherwise FFmpeg's lines ("moov atom not found")
# precede the one `error:` line an undecodable video gets. A value the user set is kept.
_FFMPEG_LOG_LEVEL = ("OPENCV_FFMPEG_LOGLEVEL", "-8")


def import_cv2():
  """OpenCV, with FFmpeg's own logging silenced; every video reader and writer imports it so."""
  os.environ.setdefault(*_FFMPEG_LOG_LEVEL)
  import cv2

  return cv2


def positive_frames(labels_csv: str, object_name: str) -> tuple[set[int], int]:
  """Frames with at least one row naming `object_name`, and the largest frame in the CSV."""
  positives, last = set(), -1
  try:
    handle = open(labels_csv, newline="")
  except OSError as error:
    raise DatasetError(f"cannot read labels CSV {labels_csv!r}: {error.strerror}") from None
  with handle:
    reader = csv.DictReader(handle)
    columns = [name.strip() for name in reader.fieldnames or ()]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
      found = ", ".join(columns) or "none"
      raise DatasetError(
          f"labels CSV {labels_csv!r} lacks column(s) {', '.join(missing)}; NoScope CSVs have "
          f"frame,object_name,confidence,xmin,ymin,xmax,ymax (found: {found})")
    reader.fieldnames = columns
    for row in reader:
      try:
        frame = int(float(row["frame"]))
      except (TypeError, ValueError):
        raise DatasetError(f"labels CSV {labels_csv!r} line {reader.line_num}: frame "
                           f"{row['frame']!r} is not a frame number") from None
      if frame < 0:
        raise DatasetError(f"labels CSV {labels_csv!r} line {reader.line_num}: negative frame")
      last = max(last, frame)
      if (row["object_name"] or "").strip() == object_name:
        positives.add(frame)
  return positives, last


def frame_labels(labels_csv: str, task: Task, num_frames: int, *, video: str = "") -> np.ndarray:
  """(num_frames,) 0/1 labels of every frame of a video (path `video`, for the error) from a
  NoScope label CSV."""
  positives, last = positive_frames(labels_csv, task.noscope.object_name)
  if last >= num_frames:
    raise DatasetError(f"labels CSV {labels_csv!r} labels frame {last} but video "
                       f"{video!r} has only {num_frames} frames: a mismatched pair?")
  labels = np.zeros(num_frames, np.int32)
  labels[sorted(positives)] = 1
  return labels


def open_capture(video: str, decoder_threads: int = 0):
  """An opened OpenCV capture of `video`. decoder_threads > 0 caps FFmpeg's own decoding
  threads (0: FFmpeg's choice); callers that decode several stretches in parallel threads of
  their own pass 1-2: on small frames FFmpeg's threading costs more than it gains (160×120:
  21,500 frames/s with 1 thread against 7,100 with FFmpeg's default, one capture, 2 cores)."""
  cv2 = import_cv2()
  params = [cv2.CAP_PROP_N_THREADS, decoder_threads] if decoder_threads > 0 else []
  capture = cv2.VideoCapture(video, cv2.CAP_ANY, params)
  if not capture.isOpened():
    raise DatasetError(f"cannot decode video {video!r}: OpenCV cannot open it as a video")
  return capture


def count_frames(video: str) -> int:
  """Frames in the video: the container's count, or (when it has none) a decoding pass."""
  cv2 = import_cv2()
  capture = open_capture(video)
  try:
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if count <= 0:
      count = 0
      while capture.grab():
        count += 1
  finally:
    capture.release()
  return count


@dataclasses.dataclass(frozen=True)
class ChunkPlan:
  """Frame ranges [start, stop) of the train/val/test chunks, and the frame stride of each.

  `ranges` holds each split's own chunk (the paper's); `train_ranges` the frames train actually
  uses: its chunk, or at a scale above 1 also further chunks (see `chunk_plan`), in frame order.
  """

  num_frames: int
  chunk_size: int
  ranges: dict[str, tuple[int, int]]
  strides: dict[str, int]
  train_ranges: tuple[tuple[int, int], ...] = ()

  def frames(self, split: str) -> list[int]:
    """The frame numbers of the split, in increasing order."""
    if split == "train":
      spans = self.train_ranges or (self.ranges["train"],)
    else:
      spans = (self.ranges[split],)
    return [frame for start, stop in spans for frame in range(start, stop, self.strides[split])]


def _stride(scale: float) -> int:
  return max(1, int(round(1 / scale))) if scale < 1 else 1


def extra_train_chunks(task: Task) -> list[int]:
  """The chunks (1-based) a NoScope train split may add beyond its own, nearest to it first:
  every chunk that is neither val nor test nor next to either, so no object that crosses a chunk
  boundary is seen in training and again in validation or test."""
  source = task.noscope
  train, val, test = source.split_chunks
  held_out = {chunk + step for chunk in (val, test) for step in (-1, 0, 1)}
  eligible = [chunk for chunk in range(1, source.num_chunks + 1)
              if chunk != train and chunk not in held_out]
  return sorted(eligible, key=lambda chunk: (abs(chunk - train), chunk))


def chunk_plan(task: Task, num_frames: int, scale: float = 1.0, video: str = "video", *,
               eval_scale: float = 1.0) -> ChunkPlan:
  """Cuts `num_frames` into the task's equal contiguous chunks (1-based split chunks).

  The train chunk keeps every (1/scale)-th frame, val and test every (1/eval_scale)-th. A scale
  above 1 means more training video, as it means more training images for a game task: the
  train split takes round(scale × chunk) frames, its own chunk first and then whole or partial
  `extra_train_chunks` (n2 and n3 have 4 of them, so at most scale 5; n1 5; n4 12).
  """
  source = task.noscope
  chunk_size = num_frames // source.num_chunks
  strides = {split: _stride(scale if split == "train" else eval_scale) for split in SPLITS}
  chunks = "/".join(map(str, source.split_chunks))
  if chunk_size < max(strides.values()):
    raise DatasetError(
        f"video {video!r} has {num_frames} frames: task {task.id} cuts it into "
        f"{source.num_chunks} chunks and uses chunks {chunks} as train/val/test, so it needs at "
        f"least {source.num_chunks * max(strides.values())} frames (at scale "
        f"{min(scale, eval_scale):g})")
  ranges = {split: ((chunk - 1) * chunk_size, chunk * chunk_size)
            for split, chunk in zip(SPLITS, source.split_chunks, strict=True)}
  train_ranges = [ranges["train"]]
  if scale > 1:
    extra = extra_train_chunks(task)
    if scale > 1 + len(extra):
      raise DatasetError(
          f"scale {scale:g} asks task {task.id} for {scale:g} chunks of training video, but "
          f"only {1 + len(extra)} chunks are neither val/test nor next to them (chunks "
          f"{', '.join(map(str, [source.split_chunks[0], *sorted(extra)]))} of "
          f"{source.num_chunks}); use scale <= {1 + len(extra)}")
    wanted = int(round((scale - 1) * chunk_size))
    for chunk in extra:
      if wanted <= 0:
        break
      start = (chunk - 1) * chunk_size
      train_ranges.append((start, start + min(chunk_size, wanted)))
      wanted -= chunk_size
  return ChunkPlan(num_frames, chunk_size, ranges, strides, tuple(sorted(train_ranges)))


def nearest_indices(source: int, target: int) -> np.ndarray:
  """The source rows (or columns) that OpenCV's nearest-neighbour resize of `source` pixels to
  `target` samples: floor(i · (1 / (target / source))), clamped to the last. Gathering them is
  `to_model_frame`'s resize exactly (so it can run on the devices, see video_filter)."""
  step = 1.0 / (target / source)
  return np.minimum(np.floor(np.arange(target) * step).astype(np.int64), source - 1)


def frame_size(video: str) -> tuple[int, int]:
  """(height, width) of the video's frames: the container's, or the first frame's."""
  cv2 = import_cv2()
  capture = open_capture(video)
  try:
    hw = (int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
    if min(hw) <= 0:
      frame = capture.read()[1]
      hw = tuple(frame.shape[:2]) if frame is not None else (0, 0)
  finally:
    capture.release()
  return hw


def to_model_frame(frame_bgr: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
  """A decoded BGR frame as the model sees it: resized (nearest neighbour) RGB uint8."""
  import cv2

  small = cv2.resize(frame_bgr, (hw[1], hw[0]), interpolation=cv2.INTER_NEAREST)
  return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


class Ingest:
  """Streams labelled 50×50 frames of one NoScope video split by split.

  One decoder is kept open across splits: the paper's chunks are consecutive, so building train,
  val, then test decodes the video once; any other order (or extra train chunks after the test
  chunk) reopens it, skipping to the frame with `grab`.
  """

  def __init__(self, task: Task, video: str, labels_csv: str, *, scale: float = 1.0,
               eval_scale: float = 1.0, progress: bool = True):
    self.task, self.video, self.progress = task, video, progress
    self.positives, last_labelled = positive_frames(labels_csv, task.noscope.object_name)
    self.plan = chunk_plan(task, count_frames(video), scale, video, eval_scale=eval_scale)
    if last_labelled >= self.plan.num_frames:
      raise DatasetError(f"labels CSV {labels_csv!r} labels frame {last_labelled} but video "
                         f"{video!r} has only {self.plan.num_frames} frames: a mismatched pair?")
    self._capture, self._position = None, 0

  def _seek(self, frame: int) -> None:
    if self._capture is None or self._position > frame:
      if self._capture is not None:
        self._capture.release()
      self._capture, self._position = open_capture(self.video), 0
    while self._position < frame:
      self._grab(decode=False)

  def _grab(self, decode: bool) -> np.ndarray | None:
    ok = self._capture.grab()
    image = self._capture.retrieve()[1] if ok and decode else None
    if not ok or (decode and image is None):
      raise DatasetError(f"video {self.video!r} ended at frame {self._position}, before the "
                         f"{self.plan.num_frames} frames its header promises")
    self._position += 1
    return image

  def examples(self, split: str) -> Iterator[tuple[int, int, np.ndarray]]:
    """(frame, label, image uint8 (H, W, 3)) for each kept frame of the split's chunk."""
    from tqdm import tqdm

    frames = self.plan.frames(split)
    self._seek(frames[0])
    with tqdm(total=len(frames), desc=f"{self.task.id} {split} frames", unit="frame",
              disable=not self.progress, leave=False) as bar:
      for frame in frames:
        self._seek(frame)
        image = self._grab(decode=True)
        yield frame, int(frame in self.positives), to_model_frame(image, self.task.input_hw)
        bar.update()
    if split == SPLITS[-1] and self._capture is not None:
      self._capture.release()
      self._capture = None
