"""A trained FoldedCNN over a video: the production filter job.

Worker threads decode contiguous streams of frames (OpenCV releases the GIL while decoding)
and turn each frame into the model input with the ingest's own `noscope.to_model_frame`; a
feeder thread folds whole batches and copies them to the devices while the main thread runs
the compiled model on the previous batch. Only a few batches of frames are ever in memory;
the per-frame results (one probability and one decision per frame) come back in frame order.

Grouping (which frames share a folded input) is a `FilterOptions` choice: "strided" (the
default for a recorded video) cuts the range into f equal segments and folds frame t of each
(decorrelated groups at the same cost, the segments decoded in parallel); "consecutive" folds
frames t..t+f-1 (lowest latency: a live stream). Measured on n2 (results/cpu/filter_video_n2.txt):
a warm-started f = 4 model is 1.3 points more accurate strided than consecutive on the test chunk.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg must not print before `error:`

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec  # noqa: E402

from foldedcnn_jax import folding  # noqa: E402
from foldedcnn_jax.data import noscope  # noqa: E402
from foldedcnn_jax.data.common import DatasetError, atomic_path  # noqa: E402
from foldedcnn_jax.errors import UserInputError  # noqa: E402
from foldedcnn_jax.predict import Predictor  # noqa: E402
from foldedcnn_jax.tasks import Task, get_task  # noqa: E402

GROUPINGS = ("consecutive", "strided")
STAGES = ("decode", "resize", "fold", "transfer", "model")
_END = object()  # a stream's last item


class _Stopped(Exception):
  """Another thread failed first: this one only unwinds."""


@dataclasses.dataclass(frozen=True)
class FilterOptions:
  """How the filter runs; the defaults suit a CPU."""

  grouping: str = "strided"
  batch_images: int = 256  # frames per model call
  decode_workers: int = 0  # consecutive grouping: decoding threads (0: one per CPU core)
  progress: bool = True

  def check(self, fold: int) -> FilterOptions:
    if self.grouping not in GROUPINGS:
      raise UserInputError(f"grouping must be one of {', '.join(GROUPINGS)}, got "
                           f"{self.grouping!r}")
    if self.batch_images < fold or self.decode_workers < 0:
      raise UserInputError(f"need batch_images >= f = {fold} and decode_workers >= 0")
    return self


class Video:
  """A video file: its frame count (from the container, checked on open) and decoders."""

  def __init__(self, path: str):
    if not os.path.isfile(path):
      raise DatasetError(f"cannot read video {path!r}: no such file")
    self.path = path
    self.num_frames = noscope.count_frames(path)  # raises one DatasetError if unreadable
    if self.num_frames < 1:
      raise DatasetError(f"video {path!r} has no frames")

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

  def decode(self, frames: range):
    """Yields (BGR frame, seconds spent decoding it) for each frame of `frames`."""
    import cv2

    capture = cv2.VideoCapture(self.path)
    if not capture.isOpened():
      raise DatasetError(f"cannot decode video {self.path!r}: OpenCV cannot open it as a video")
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


def noscope_task(predictor: Predictor) -> Task:
  """The predictor's task, which must be a NoScope video task."""
  task = get_task(predictor.task_id)
  if task.family != "noscope":
    raise UserInputError(f"checkpoint {predictor.checkpoint!r} is task {task.id} "
                         f"({task.family}), not a NoScope video task (n1..n4)")
  return task


def _strided(fold: int, options: FilterOptions) -> bool:
  """Strided grouping, which at f = 1 is consecutive (one image per input)."""
  return options.grouping == "strided" and fold > 1


def streams(frames: range, fold: int, options: FilterOptions) -> list[range]:
  """The contiguous ranges decoded by one worker each.

  Consecutive: whole batches split evenly between the workers (the group boundaries stay
  where one sequential pass would put them). Strided: f equal segments, the last shorter.
  """
  if _strided(fold, options):
    length = -(-len(frames) // fold)
    return [frames[j * length:(j + 1) * length] for j in range(fold)]
  workers = options.decode_workers or os.cpu_count() or 1
  batches = -(-len(frames) // options.batch_images)
  per_worker = -(-batches // min(workers, batches)) * options.batch_images
  return [frames[i:i + per_worker] for i in range(0, len(frames), per_worker)]


def slots(frames: range, fold: int, options: FilterOptions) -> np.ndarray:
  """The frame in each image slot, in folding order (-1: zero padding): folded input g holds
  slots g·f … g·f+f−1. The order the filter feeds the model."""
  parts = streams(frames, fold, options)
  if not _strided(fold, options):
    order = np.arange(frames.start, frames.stop)
  else:
    order = np.full((len(parts[0]), fold), -1)
    for j, part in enumerate(parts):
      order[:len(part), j] = part
  order = order.reshape(-1)
  return np.concatenate([order, np.full(folding.padded_size(len(order), fold) - len(order), -1)])


@dataclasses.dataclass
class StageTimes:
  """Seconds spent in each stage, summed over the threads that run it (thread-safe)."""

  seconds: dict[str, float] = dataclasses.field(default_factory=lambda: dict.fromkeys(STAGES, 0.))
  _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

  def add(self, stage: str, seconds: float) -> None:
    with self._lock:
      self.seconds[stage] += seconds

  def shares(self) -> dict[str, float]:
    total = sum(self.seconds.values()) or 1.0
    return {stage: seconds / total for stage, seconds in self.seconds.items()}


@dataclasses.dataclass(frozen=True)
class FilterResult:
  """Per-frame outputs in frame order, and how long the job took."""

  frames: np.ndarray  # (N,) frame numbers
  probabilities: np.ndarray  # (N,) probability of the task's object
  decisions: np.ndarray  # (N,) the model's class (1: the object is there)
  seconds: float  # end to end, from opening the video to the last result (compiled before)
  stage_seconds: dict[str, float]
  grouping: str

  @property
  def frames_per_second(self) -> float:
    return len(self.frames) / self.seconds

  def stage_shares(self) -> dict[str, float]:
    return StageTimes(dict(self.stage_seconds)).shares()

  def write_csv(self, path: str) -> None:
    """frame,probability,decision rows, written to a temporary file renamed onto `path`."""
    try:
      with atomic_path(path) as temporary, open(temporary, "w") as handle:
        handle.write("frame,probability,decision\n")
        for frame, probability, decision in zip(self.frames, self.probabilities, self.decisions,
                                                strict=True):
          handle.write(f"{frame},{probability:.6f},{decision}\n")
    except OSError as error:
      raise UserInputError(f"cannot write {path!r}: {error.strerror or error}") from None


class _Pipeline:
  """The decoding threads of one run and the stop signal they share with the feeder thread:
  any error stops them all, and the first one reaches the main thread."""

  def __init__(self, video: Video, frames: range, hw: tuple[int, int], fold: int,
               options: FilterOptions, times: StageTimes, resize: bool = True):
    self.video, self.hw, self.fold, self.options, self.times = video, hw, fold, options, times
    self.resize, self.stop = resize, threading.Event()
    self.parts = streams(frames, fold, options)
    strided = _strided(fold, options)
    self.chunk = options.batch_images // fold if strided else options.batch_images
    self.queues = [queue.Queue(maxsize=2) for _ in self.parts]
    self.threads = [threading.Thread(target=self._decode, args=(part, out), daemon=True)
                    for part, out in zip(self.parts, self.queues, strict=True)]

  def __enter__(self) -> _Pipeline:
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
    """The next item of `source`; raises a stream's error, or _Stopped once the run stops."""
    while True:
      try:
        item = source.get(timeout=0.05)
        break
      except queue.Empty:
        if self.stop.is_set():
          raise _Stopped from None
    if isinstance(item, BaseException):
      raise item
    return item

  def _decode(self, part: range, out: queue.Queue) -> None:
    decoded = self.video.decode(part)
    try:
      for begin in range(part.start, part.stop, self.chunk):
        count = min(self.chunk, part.stop - begin)
        images = np.empty((count, *self.hw, 3), np.uint8)
        decode_seconds = resize_seconds = 0.0
        for index in range(count):
          image, seconds = next(decoded)
          decode_seconds += seconds
          if self.resize:
            started = time.perf_counter()
            images[index] = noscope.to_model_frame(image, self.hw)
            resize_seconds += time.perf_counter() - started
          if self.stop.is_set():
            return
        self.times.add("decode", decode_seconds)
        self.times.add("resize", resize_seconds)
        self.put(out, (np.arange(begin, begin + count), images))
      self.put(out, _END)
    except Exception as error:  # noqa: BLE001 - handed to the main thread
      self.put(out, error)
    finally:
      decoded.close()  # releases the decoder now, not at garbage collection

  def batches(self):
    """Host batches (frame of each slot, images in folding order), until every stream ends."""
    if not _strided(self.fold, self.options):  # round robin: every worker keeps decoding
      active = list(self.queues)
      while active:
        for source in list(active):
          if (item := self.get(source)) is _END:
            active.remove(source)
          else:
            yield item
      return
    ended = [False] * len(self.queues)
    while True:
      items = [None if ended[j] else self.get(source) for j, source in enumerate(self.queues)]
      for j, item in enumerate(items):
        ended[j] = ended[j] or item is _END
      if all(ended):
        return
      count = max(len(item[0]) for item in items if item is not _END and item is not None)
      order = np.full((count, self.fold), -1)
      images = np.zeros((count, self.fold, *self.hw, 3), np.uint8)
      for j, item in enumerate(items):
        if item is not _END and item is not None:
          order[:len(item[0]), j], images[:len(item[0]), j] = item
      yield order.reshape(-1), images.reshape(-1, *self.hw, 3)


def _compiled(predictor: Predictor, batch_images: int):
  """The predictor with its params on every local device, the sharding of its inputs, and a
  zero batch of the one input shape it runs (compiled here, so no timing includes it)."""
  devices = jax.local_device_count()
  mesh = jax.make_mesh((devices,), ("data",))
  params = jax.device_put(predictor.params, NamedSharding(mesh, PartitionSpec()))
  replica = Predictor(predictor.graphdef, params, predictor.spec, predictor.class_names,
                      task_id=predictor.task_id, batch_images=predictor.batch_images,
                      checkpoint=predictor.checkpoint, config=predictor.config,
                      tune_mode=predictor.tune_mode, tune_cache=predictor.tune_cache)
  groups = -(-batch_images // predictor.fold // devices) * devices
  sharding = NamedSharding(mesh, PartitionSpec("data"))
  zeros = np.zeros((groups, *predictor.spec.folded_input_shape), np.uint8)
  jax.block_until_ready(replica.folded_logits(jax.device_put(zeros, sharding)))
  return replica, sharding, zeros


def model_frames_per_second(predictor: Predictor, num_frames: int,
                            options: FilterOptions = FilterOptions()) -> float:
  """Frames/s of the compiled model alone over `num_frames` frames, batched as the filter
  batches them, inputs already on the devices, logits fetched after every call as the filter
  fetches them: the model's ceiling for the same job."""
  predictor, sharding, zeros = _compiled(predictor, options.check(predictor.fold).batch_images)
  inputs = jax.device_put(zeros, sharding)
  started = time.perf_counter()
  for _ in range(-(-num_frames // options.batch_images)):
    np.asarray(predictor.folded_logits(inputs))
  return num_frames / (time.perf_counter() - started)


def filter_video(predictor: Predictor, video: Video, frames: range,
                 options: FilterOptions = FilterOptions()) -> FilterResult:
  """Runs the predictor's model over `frames` of `video`: per-frame probability and decision."""
  from tqdm import tqdm

  task, fold = noscope_task(predictor), predictor.fold
  options.check(fold)
  predictor, sharding, zeros = _compiled(predictor, options.batch_images)
  times, started = StageTimes(), time.perf_counter()
  probabilities = np.zeros(len(frames), np.float32)
  decisions = np.zeros(len(frames), np.int32)
  on_device: queue.Queue = queue.Queue(maxsize=2)

  with _Pipeline(video, frames, task.input_hw, fold, options, times) as pipeline:

    def feed() -> None:  # fold and copy batch i+1 while the model runs on batch i
      try:
        for order, images in pipeline.batches():
          begun = time.perf_counter()
          folded = folding.fold(images, fold)
          padded = np.zeros_like(zeros)
          padded[:len(folded)] = folded
          moved = time.perf_counter()
          times.add("fold", moved - begun)
          inputs = jax.block_until_ready(jax.device_put(padded, sharding))
          times.add("transfer", time.perf_counter() - moved)
          pipeline.put(on_device, (order, inputs))
        pipeline.put(on_device, _END)
      except Exception as error:  # noqa: BLE001 - handed to the main thread
        pipeline.put(on_device, error)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
      with tqdm(total=len(frames), desc=f"{task.id} f={fold}", unit="frame",
                disable=not options.progress, leave=False) as bar:
        while (item := pipeline.get(on_device)) is not _END:
          order, inputs = item
          begun = time.perf_counter()
          logits = np.asarray(predictor.folded_logits(inputs))
          times.add("model", time.perf_counter() - begun)
          logits = folding.unfold(logits, fold)[:len(order)]
          kept = order >= 0
          positions = order[kept] - frames.start
          probabilities[positions] = _softmax(logits[kept])[:, 1]
          decisions[positions] = logits[kept].argmax(-1)
          bar.update(int(kept.sum()))
    finally:
      pipeline.stop.set()
      feeder.join()
  return FilterResult(np.arange(frames.start, frames.stop), probabilities, decisions,
                      time.perf_counter() - started, dict(times.seconds),
                      "strided" if _strided(fold, options) else "consecutive")


def decode_frames_per_second(video: Video, frames: range, hw: tuple[int, int], fold: int,
                             options: FilterOptions = FilterOptions(), *,
                             resize: bool = False) -> float:
  """Frames/s of the decoding threads alone (with `resize`: of the whole input stage)."""
  options = dataclasses.replace(options, progress=False).check(fold)
  started, count = time.perf_counter(), 0
  with _Pipeline(video, frames, hw, fold, options, StageTimes(), resize) as pipeline:
    for order, _ in pipeline.batches():
      count += int((order >= 0).sum())
  return count / (time.perf_counter() - started)


def _softmax(logits: np.ndarray) -> np.ndarray:
  shifted = np.exp(logits - logits.max(-1, keepdims=True))
  return shifted / shifted.sum(-1, keepdims=True)


def frame_labels(labels_csv: str, task: Task, video: Video) -> np.ndarray:
  """(num_frames,) 0/1 labels of every frame of the video from a NoScope label CSV."""
  positives, last = noscope.positive_frames(labels_csv, task.noscope.object_name)
  if last >= video.num_frames:
    raise DatasetError(f"labels CSV {labels_csv!r} labels frame {last} but video "
                       f"{video.path!r} has only {video.num_frames} frames: a mismatched pair?")
  labels = np.zeros(video.num_frames, np.int32)
  labels[sorted(positives)] = 1
  return labels
