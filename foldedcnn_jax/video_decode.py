"""Decoding the frames a video filter runs on: video files, the clips taken from them, and the
threads that decode them in parallel.

The frames of all clips, one after another, are numbered by position 0..N-1. A lane is a list
of position ranges that one thread decodes in order (a range never crosses two clips); the
filter's grouping decides the lanes (`runtime.grouping.lanes`). OpenCV releases the GIL while it
decodes, so the threads run in parallel; each hands the main thread chunks of model-ready frames
(the ingest's own `noscope.to_model_frame`) through a short queue, so only a few batches of
frames are ever in memory.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
from collections.abc import Sequence

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg must not print before `error:`

import numpy as np  # noqa: E402

from foldedcnn_jax.data import noscope  # noqa: E402
from foldedcnn_jax.data.common import DatasetError  # noqa: E402
from foldedcnn_jax.errors import UserInputError  # noqa: E402
from foldedcnn_jax.runtime.grouping import Positions  # noqa: E402

END = object()  # a lane's last item


class Stopped(Exception):
  """Another thread failed first: this one only unwinds."""


class Video:
  """A video file: its frame count (from the container, checked on open) and decoders."""

  def __init__(self, path: str):
    if not os.path.isfile(path):
      raise DatasetError(f"cannot read video {path!r}: no such file")
    self.path = path
    self.num_frames = noscope.count_frames(path)  # raises one DatasetError if unreadable
    if self.num_frames < 1:
      raise DatasetError(f"video {path!r} has no frames")
    self._frame_hw: tuple[int, int] | None = None

  @property
  def frame_hw(self) -> tuple[int, int]:
    """(height, width) of the decoded frames."""
    if self._frame_hw is None:
      self._frame_hw = noscope.frame_size(self.path)
    return self._frame_hw

  def frame_range(self, text: str = "") -> range:
    """The frames of "START:STOP" (either may be empty), checked against the video."""
    start, separator, stop = (text or ":").partition(":")
    try:
      first = int(start) if start.strip() else 0
      last = int(stop) if stop.strip() else self.num_frames
    except ValueError:
      separator = ""
    if not separator:
      raise UserInputError(f"frames must be START:STOP, got {text!r}")
    if not 0 <= first < last <= self.num_frames:
      raise UserInputError(f"frames {first}:{last} are out of range: video {self.path!r} has "
                           f"frames 0:{self.num_frames}")
    return range(first, last)

  def decode(self, frames: range, decoder_threads: int = 0):
    """Yields (BGR frame, seconds spent decoding it) for each frame of `frames`
    (decoder_threads: FFmpeg's own threads for this stretch, 0 = its choice)."""
    import cv2

    capture = noscope.open_capture(self.path, decoder_threads)
    try:
      if frames.start:
        capture.set(cv2.CAP_PROP_POS_FRAMES, frames.start)
      for frame in frames:
        started = time.perf_counter()
        image = capture.read()[1]
        if image is None:
          raise DatasetError(f"video {self.path!r} ended at frame {frame}, before the "
                             f"{self.num_frames} frames its header promises (truncated?)")
        yield image, time.perf_counter() - started
    finally:
      capture.release()


@dataclasses.dataclass(frozen=True)
class Clip:
  """Frames `frames` of one video: one stream (camera) the filter runs over."""

  video: Video
  frames: range

  def __len__(self) -> int:
    return len(self.frames)


def frame_numbers(clips: Sequence[Clip]) -> np.ndarray:
  """(N,) the frame number (within its video) of each position."""
  return np.concatenate([np.arange(clip.frames.start, clip.frames.stop) for clip in clips])


@dataclasses.dataclass
class StageTimes:
  """Seconds spent in each stage, summed over the threads that run it (thread-safe)."""

  seconds: dict[str, float]
  _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

  @classmethod
  def of(cls, stages: Sequence[str]) -> StageTimes:
    """Zero seconds in each of `stages`, in that order."""
    return cls(dict.fromkeys(stages, 0.0))

  def add(self, stage: str, seconds: float) -> None:
    with self._lock:
      self.seconds[stage] += seconds

  def shares(self) -> dict[str, float]:
    total = sum(self.seconds.values()) or 1.0
    return {stage: seconds / total for stage, seconds in self.seconds.items()}


class DecodePipeline:
  """The decoding threads of one run, one per lane, and the stop signal they share with the
  caller's own threads: any error stops them all, and the first one reaches the caller.

  Each lane yields chunks of at most `chunk` frames. `consecutive`: the lanes' ranges are whole
  batches of consecutive frames, so a chunk also ends where a range does and `batches` hands
  chunks on as they come; otherwise there is one lane per folded slot and `batches` puts chunk t
  of every lane side by side. `output` (OUTPUTS): "model" frames (the ingest's resize and RGB),
  the decoded BGR frames as they are ("source": every clip's frames must be `hw`), or nothing
  ("none": decoding alone, for its ceiling).
  """

  OUTPUTS = ("model", "source", "none")

  def __init__(self, clips: Sequence[Clip], lanes: list[list[range]], hw: tuple[int, int],
               chunk: int, times: StageTimes, *, consecutive: bool, output: str = "model"):
    if output not in self.OUTPUTS:
      raise ValueError(f"output must be one of {self.OUTPUTS}, got {output!r}")
    self.clips, self.positions = list(clips), Positions([len(clip) for clip in clips])
    self.hw, self.chunk, self.times = tuple(hw), chunk, times
    self.consecutive, self.output, self.stop = consecutive, output, threading.Event()
    self.lanes = lanes
    # The lanes are the parallelism: FFmpeg gets only the cores they leave (measured on 2 cores,
    # 4 lanes of a 160×120 video: 45,000 frames/s with 1 FFmpeg thread each, 22,000 with its own
    # threading, which then competes with the model for the same cores).
    self.decoder_threads = max(1, (os.cpu_count() or 1) // max(1, len(lanes)))
    self.queues = [queue.Queue(maxsize=2) for _ in lanes]
    self.threads = [threading.Thread(target=self._decode, args=(lane, out), daemon=True)
                    for lane, out in zip(lanes, self.queues, strict=True)]

  def __enter__(self) -> DecodePipeline:
    for thread in self.threads:
      thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self.stop.set()
    for thread in self.threads:
      thread.join()

  def put(self, out: queue.Queue, item) -> None:
    while not self.stop.is_set():
      try:
        out.put(item, timeout=0.05)
        return
      except queue.Full:
        continue

  def get(self, source: queue.Queue):
    """The next item of `source`; raises a lane's error, or Stopped once the run stops."""
    while True:
      try:
        item = source.get(timeout=0.05)
        break
      except queue.Empty:
        if self.stop.is_set():
          raise Stopped from None
    if isinstance(item, BaseException):
      raise item
    return item

  def _frames(self, lane: list[range]):
    """(position, BGR frame, decode seconds) along the lane; ranges that continue one another
    in the same clip share one decoder (no seek per batch)."""
    runs: list[list[range]] = []
    for span in lane:
      if runs and runs[-1][-1].stop == span.start and (
          self.positions.clip_of(span.start) == self.positions.clip_of(runs[-1][-1].start)):
        runs[-1].append(span)
      else:
        runs.append([span])
    for run in runs:
      clip_index = self.positions.clip_of(run[0].start)
      clip, offset = self.clips[clip_index], self.positions.offsets[clip_index]
      frames = clip.frames[run[0].start - offset:run[-1].stop - offset]
      decoded = clip.video.decode(frames, self.decoder_threads)
      try:
        for position, (image, seconds) in zip(range(run[0].start, run[-1].stop), decoded,
                                                  strict=True):
          yield position, image, seconds
      finally:
        decoded.close()  # releases the decoder now, not at garbage collection

  def _chunks(self, lane: list[range]) -> list[int]:
    """How many frames each chunk of the lane holds."""
    if self.consecutive:
      return [min(self.chunk, len(span) - start) for span in lane
              for start in range(0, len(span), self.chunk)]
    total = sum(len(span) for span in lane)
    return [min(self.chunk, total - start) for start in range(0, total, self.chunk)]

  def _decode(self, lane: list[range], out: queue.Queue) -> None:
    frames = self._frames(lane)
    try:
      for count in self._chunks(lane):
        positions = np.empty(count, np.int64)
        images = np.empty((count, *self.hw, 3), np.uint8)
        decode_seconds = resize_seconds = 0.0
        for index in range(count):
          positions[index], image, seconds = next(frames)
          decode_seconds += seconds
          if self.output == "model":
            started = time.perf_counter()
            images[index] = noscope.to_model_frame(image, self.hw)
            resize_seconds += time.perf_counter() - started
          elif self.output == "source":
            if image.shape[:2] != self.hw:
              raise DatasetError(f"a decoded frame is {image.shape[1]}x{image.shape[0]}, not "
                                 f"the {self.hw[1]}x{self.hw[0]} of its video's header: resize "
                                 "on the host (--resize=host)")
            images[index] = image
          if self.stop.is_set():
            return
        self.times.add("decode", decode_seconds)
        self.times.add("resize", resize_seconds)
        self.put(out, (positions, images))
      self.put(out, END)
    except Exception as error:  # noqa: BLE001 - handed to the caller
      self.put(out, error)
    finally:
      frames.close()

  def batches(self):
    """(position of each slot, images in folding order) for every host batch."""
    return self._round_robin() if self.consecutive else self._side_by_side(len(self.lanes))

  def _round_robin(self):
    """Each lane's chunks as they come, taking turns so every thread keeps decoding."""
    active = list(self.queues)
    while active:
      for source in list(active):
        if (item := self.get(source)) is END:
          active.remove(source)
        else:
          yield item

  def _side_by_side(self, fold: int):
    """(position of each slot, images in folding order): chunk t of every lane side by side, so
    folded input i of a batch holds frame i of each lane's chunk (-1 and zeros: a lane that has
    ended or runs short)."""
    ended = [False] * len(self.queues)
    while True:
      items = [None if ended[j] else self.get(source) for j, source in enumerate(self.queues)]
      for j, item in enumerate(items):
        ended[j] = ended[j] or item is END
      if all(ended):
        return
      live = [(j, item) for j, item in enumerate(items) if item is not END and item is not None]
      count = max(len(item[0]) for _, item in live)
      order = np.full((count, fold), -1)
      images = np.zeros((count, fold, *self.hw, 3), np.uint8)
      for j, (positions, chunk) in live:
        order[:len(positions), j], images[:len(positions), j] = positions, chunk
      yield order.reshape(-1), images.reshape(-1, *self.hw, 3)
