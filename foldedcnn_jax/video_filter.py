"""A trained FoldedCNN over videos: the production filter job.

Decoding threads (`video_decode`) turn the frames of one or more clips into model inputs with the
ingest's own function; a feeder thread folds whole batches and copies them to the devices while
the main thread runs the compiled model on the previous batch. The per-frame results (one
probability and one decision per frame) come back in frame order, clip after clip.

Grouping (which frames share a folded input) is a `FilterOptions` choice:
  strided      cut the frames into f equal segments and fold frame t of each: decorrelated groups
               at the same cost, the segments decoded in parallel (a recorded video)
  interleaved  fold frames of f different clips (cameras, game streams) taken at the same time;
               with fewer clips than f, each clip is cut into segments as strided does
  consecutive  fold frames t..t+f-1 of one clip: the lowest latency (a live stream)
  auto         (the default) strided for one clip, interleaved for several
Measured on n2 (results/cpu/filter_video_n2.txt, test chunks): the table's warm-started f = 4
model is 0.4-0.6 point below f = 1 on its own video under every grouping; on unseen videos
interleaved and strided are within 0.5 point of each other and consecutive 0.3-1.0 below them.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import queue
import threading
import time
from collections.abc import Sequence

import jax
import numpy as np

from foldedcnn_jax.data import noscope
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.files import atomic_path
from foldedcnn_jax.predict import Predictor
from foldedcnn_jax.runtime import folding, grouping
from foldedcnn_jax.runtime.runner import softmax
from foldedcnn_jax.tasks import Task, get_task
from foldedcnn_jax.video_decode import (
  END,
  Clip,
  DecodePipeline,
  StageTimes,
  Video,
  frame_numbers,
)

__all__ = ["Clip", "FilterOptions", "FilterResult", "Video", "filter_clips", "filter_video"]

# Where frames become model inputs: "host" (the decoding threads run the ingest's resize),
# "device" (the decoded frames are folded and copied as they are; the resize is a gather inside
# the compiled model, see DeviceResize), "auto" (device on an accelerator, host on a CPU).
RESIZES = ("auto", "host", "device")
STAGES = ("decode", "resize", "fold", "transfer", "model")


@dataclasses.dataclass(frozen=True)
class FilterOptions:
  """How the filter runs; the defaults suit a CPU."""

  grouping: str = "auto"
  batch_images: int = 256  # frames per model call
  decode_workers: int = 0  # consecutive grouping: decoding threads (0: one per CPU core)
  progress: bool = True
  resize: str = "auto"  # RESIZES

  def check(self, fold: int) -> FilterOptions:
    if self.grouping not in grouping.STREAM_GROUPINGS:
      raise UserInputError(f"grouping must be one of {', '.join(grouping.STREAM_GROUPINGS)}, got "
                           f"{self.grouping!r}")
    if self.resize not in RESIZES:
      raise UserInputError(f"resize must be one of {', '.join(RESIZES)}, got {self.resize!r}")
    if self.batch_images < fold or self.decode_workers < 0:
      raise UserInputError(f"need batch_images >= f = {fold} and decode_workers >= 0")
    return self

  def resolved(self, num_clips: int, fold: int) -> str:
    """The grouping that runs: "auto" picked for the number of clips, and at f = 1 always
    consecutive (one image per input: nothing to group)."""
    if fold == 1:
      return "consecutive"
    if self.grouping == "auto":
      return "interleaved" if num_clips > 1 else "strided"
    return self.grouping

  def lanes(self, lengths: Sequence[int], fold: int) -> list[list[range]]:
    """The position ranges each decoding thread decodes, for clips of these lengths
    (`grouping.lanes`; consecutive: one thread per CPU core unless `decode_workers`)."""
    return grouping.lanes(lengths, fold, self.resolved(len(lengths), fold),
                          batch_images=self.batch_images,
                          workers=self.decode_workers or os.cpu_count() or 1)

  def slots(self, lengths: Sequence[int], fold: int) -> np.ndarray:
    """The position in each image slot, in folding order (-1: zero padding): folded input g
    holds slots g·f … g·f+f−1. The order the filter feeds the model."""
    return grouping.slots(self.lanes(lengths, fold), fold, self.resolved(len(lengths), fold))

  def resize_on(self, clips: Sequence[Clip], platform: str) -> str:
    """"host" or "device" for these clips on a `platform` device. The device resize needs one
    frame size across the clips (auto falls back to the host)."""
    if self.resize == "host" or (self.resize == "auto" and platform == "cpu"):
      return "host"  # no video opened just to read its frame size
    sizes = {clip.video.frame_hw for clip in clips}
    if len(sizes) == 1:
      return "device"
    if self.resize == "device":
      raise UserInputError(f"--resize=device needs videos of one frame size, got "
                           f"{', '.join(f'{w}x{h}' for h, w in sorted(sizes))}; use "
                           "--resize=host")
    return "host"


@dataclasses.dataclass(frozen=True)
class DeviceResize:
  """Decoded BGR frames (N, H, W, 3) in folding order → the model's folded input
  (N/f, h, w, f·3 RGB), in the compiled program: the rows and columns that
  `noscope.to_model_frame`'s nearest-neighbour resize samples (`noscope.nearest_indices`), the
  channels reversed, then `folding.fold`. The same uint8 values as the host path, with the host
  left to decode."""

  source_hw: tuple[int, int]
  target_hw: tuple[int, int]
  fold: int

  def __call__(self, frames: jax.Array) -> jax.Array:
    rows = noscope.nearest_indices(self.source_hw[0], self.target_hw[0])
    columns = noscope.nearest_indices(self.source_hw[1], self.target_hw[1])
    return folding.fold(frames[:, rows][:, :, columns][..., ::-1], self.fold)


def decode_pipeline(clips: Sequence[Clip], hw: tuple[int, int], fold: int,
                    options: FilterOptions, times: StageTimes,
                    output: str = "model") -> DecodePipeline:
  """The decoding threads of the filter's grouping, yielding batches in folding order."""
  consecutive = options.resolved(len(clips), fold) == "consecutive"
  return DecodePipeline(
      clips, options.lanes([len(clip) for clip in clips], fold), hw,
      options.batch_images if consecutive else options.batch_images // fold, times,
      consecutive=consecutive, output=output)


def noscope_task(predictor: Predictor) -> Task:
  """The predictor's task, which must be a NoScope video task."""
  task = get_task(predictor.task_id)
  if task.family != "noscope":
    raise UserInputError(f"checkpoint {predictor.checkpoint!r} is task {task.id} "
                         f"({task.family}), not a NoScope video task (n1..n4)")
  return task


@dataclasses.dataclass(frozen=True)
class FilterResult:
  """Per-frame outputs in frame order (clip after clip), and how long the job took."""

  frames: np.ndarray  # (N,) frame numbers within their videos
  probabilities: np.ndarray  # (N,) probability of the task's object
  decisions: np.ndarray  # (N,) the model's class (1: the object is there)
  seconds: float  # end to end, from opening the videos to the last result (compiled before)
  stage_seconds: dict[str, float]
  grouping: str
  clip_of_frame: np.ndarray  # (N,) which clip each row belongs to
  videos: tuple[str, ...]  # each clip's video file
  resize: str = "host"  # where frames were resized: "host" or "device"

  @property
  def frames_per_second(self) -> float:
    return len(self.frames) / self.seconds

  def stage_shares(self) -> dict[str, float]:
    return StageTimes(dict(self.stage_seconds)).shares()

  def write_csv(self, path: str) -> None:
    """frame,probability,decision rows (with a leading video column when there are several
    clips), written to a temporary file renamed onto `path`."""
    several = len(self.videos) > 1
    try:
      with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((["video"] if several else []) + ["frame", "probability", "decision"])
        for clip, frame, probability, decision in zip(
            self.clip_of_frame, self.frames, self.probabilities, self.decisions, strict=True):
          writer.writerow(([self.videos[clip]] if several else []) +
                          [int(frame), f"{probability:.6f}", int(decision)])
    except OSError as error:
      raise UserInputError(f"cannot write {path!r}: {error.strerror or error}") from None


def _compiled(predictor: Predictor, batch_images: int, prepare: DeviceResize | None = None):
  """The predictor's runner on every local device and a zero batch of the one input shape it
  runs (compiled here, so no timing includes it): folded model inputs, or with `prepare` the
  decoded frames, unfolded."""
  runner = predictor.runner.replicated()
  groups = -(-batch_images // predictor.fold // runner.input_multiple) * runner.input_multiple
  shape = (groups, *predictor.spec.folded_input_shape)
  if prepare is not None:  # unfolded decoded frames
    shape = (groups * predictor.fold, *prepare.source_hw, 3)
  zeros = np.zeros(shape, np.uint8)
  jax.block_until_ready(runner.folded_logits(runner.place(zeros), prepare))
  return runner, zeros


def filter_clips(predictor: Predictor, clips: Sequence[Clip],
                 options: FilterOptions = FilterOptions()) -> FilterResult:
  """Runs the predictor's model over the frames of `clips`: per-frame probability and decision,
  clip after clip in frame order."""
  from tqdm import tqdm

  task, fold = noscope_task(predictor), predictor.fold
  options.check(fold)
  resize = options.resize_on(clips, jax.devices()[0].platform)
  prepare, hw = None, task.input_hw
  if resize == "device":
    hw = clips[0].video.frame_hw
    prepare = DeviceResize(hw, task.input_hw, fold)
  runner, zeros = _compiled(predictor, options.batch_images, prepare)
  times, started = StageTimes.of(STAGES), time.perf_counter()
  total = sum(len(clip) for clip in clips)
  probabilities = np.zeros(total, np.float32)
  decisions = np.zeros(total, np.int32)
  on_device: queue.Queue = queue.Queue(maxsize=2)

  output = "source" if prepare is not None else "model"
  with decode_pipeline(clips, hw, fold, options, times, output) as pipeline:

    def feed() -> None:  # fold and copy batch i+1 while the model runs on batch i
      try:
        for order, images in pipeline.batches():
          begun = time.perf_counter()
          if prepare is None:
            padded = np.zeros_like(zeros)
            folding.fold_into(images, fold, padded)
          else:  # the device folds; a ragged last batch is zero-padded
            padded = folding.pad_to(images, len(zeros))
          moved = time.perf_counter()
          times.add("fold", moved - begun)
          inputs = runner.place(padded)
          times.add("transfer", time.perf_counter() - moved)
          pipeline.put(on_device, (order, inputs))
        pipeline.put(on_device, END)
      except Exception as error:  # noqa: BLE001 - handed to the main thread
        pipeline.put(on_device, error)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
      with tqdm(total=total, desc=f"{task.id} f={fold}", unit="frame",
                disable=not options.progress, leave=False) as bar:
        while (item := pipeline.get(on_device)) is not END:
          order, inputs = item
          begun = time.perf_counter()
          logits = np.asarray(runner.folded_logits(inputs, prepare))
          times.add("model", time.perf_counter() - begun)
          logits = folding.unfold(logits, fold)[:len(order)]
          kept = order >= 0
          positions = order[kept]
          probabilities[positions] = softmax(logits[kept])[:, 1]
          decisions[positions] = logits[kept].argmax(-1)
          bar.update(int(kept.sum()))
    finally:
      pipeline.stop.set()
      feeder.join()
  return FilterResult(frame_numbers(clips), probabilities, decisions,
                      time.perf_counter() - started, dict(times.seconds),
                      options.resolved(len(clips), fold),
                      grouping.Positions([len(clip) for clip in clips]).clip_index(),
                      tuple(clip.video.path for clip in clips), resize)


def filter_video(predictor: Predictor, video: Video, frames: range,
                 options: FilterOptions = FilterOptions()) -> FilterResult:
  """`filter_clips` over frames `frames` of one video."""
  return filter_clips(predictor, [Clip(video, frames)], options)
