"""Throughput figures outside a sweep, each through `timing`: a runner's compiled model alone
on inputs already on its devices, and the video filter's decoding stage alone (the bounds the
filter job reports)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from foldedcnn_jax.bench import timing
from foldedcnn_jax.runtime.runner import Runner


def model_images_per_second(runner: Runner, *, batch_images: int = 0, num_images: int = 4096,
                            trials: int = 5, fetch: bool = False) -> float:
  """Images/s of the runner's compiled model on random full batches of `batch_images` (0: the
  runner's) already on its devices: `trials` trials of about `num_images` images each, the
  median trial. With `fetch` the logits are copied to the host after every call, as the video
  filter does."""
  batch_images = batch_images or runner.batch_images
  multiple = runner.input_multiple
  groups = -(-batch_images // runner.fold // multiple) * multiple
  inputs = runner.place(np.random.default_rng(0).integers(
      0, 256, (groups, *runner.spec.folded_input_shape), dtype=np.uint8))

  def call():
    logits = runner.folded_logits(inputs)
    return np.asarray(logits) if fetch else logits.block_until_ready()

  measured = timing.time_calls(call, trials=trials, warmup_calls=1, min_trial_seconds=math.inf,
                               max_calls_per_trial=max(-(-num_images // batch_images), 1))
  return batch_images / measured.median_seconds


def decode_frames_per_second(clips: Sequence, hw: tuple[int, int], fold: int, options=None, *,
                             resize: bool = False) -> float:
  """Frames/s of the video filter's decoding threads alone over `clips` (with `resize`: of the
  whole input stage), one pass."""
  from foldedcnn_jax import video_decode, video_filter

  options = dataclasses.replace(options or video_filter.FilterOptions(),
                                progress=False).check(fold)
  times = video_decode.StageTimes.of(video_filter.STAGES)

  def decode() -> int:
    count = 0
    with video_filter.decode_pipeline(clips, hw, fold, options, times,
                                      "model" if resize else "none") as pipeline:
      for order, _ in pipeline.batches():
        count += int((order >= 0).sum())
    return count

  count, seconds = timing.time_once(decode)
  return count / seconds
