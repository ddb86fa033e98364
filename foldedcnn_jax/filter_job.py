"""The `filter_video` job: filter one video (or several, as interleaved streams), write the
per-frame CSV, and with labels report the cascade it feeds and §G against a second filter. Every
input is checked before any work starts, so a bad one costs one `error:` line and leaves no
output behind.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import jax
import numpy as np

from foldedcnn_jax import cascade, predict, video_filter
from foldedcnn_jax.bench import rates
from foldedcnn_jax.data import noscope
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.video_filter import Clip, FilterOptions, FilterResult, Video


@dataclasses.dataclass(frozen=True)
class Job:
  """What the user asked for (the CLI's flags)."""

  workdir: str
  video: str | Sequence[str]  # one video, or several filtered as interleaved streams
  out: str
  labels_csv: str | Sequence[str] = ""  # one label CSV per video
  frames: str = ""  # "START:STOP" of every video; "" = the whole video
  compare: str = ""  # a second workdir for §G
  target_error: float = 0.01
  confidence: float = 0.95  # the thresholds show target_error at this confidence (0: plain count)
  calibration: str = ""  # "START:STOP" of every video; "" = the task's val chunk
  evaluation: str = ""  # "START:STOP" of every video; "" = the task's test chunk
  reference_images_per_second: float = 0.0  # 0: measure a ResNet-50 on this device
  bounds: bool = False  # also measure decode-only and model-only frames/s
  options: FilterOptions = FilterOptions()


@dataclasses.dataclass(frozen=True)
class Report:
  """What the job measured: one result per filter (--workdir first), and with labels each
  filter's cascade on the evaluation frames and system frames/s, and §G."""

  results: list[FilterResult]
  outcomes: list[cascade.CascadeOutcome] = dataclasses.field(default_factory=list)
  system_frames_per_second: list[float] = dataclasses.field(default_factory=list)
  comparison: cascade.FoldingComparison | None = None


@dataclasses.dataclass(frozen=True)
class _Filter:
  """One loaded filter: where it came from and its predictor."""

  workdir: str
  predictor: predict.Predictor

  def name(self) -> str:
    return f"{self.predictor.task_id} f={self.predictor.fold} ({self.workdir})"


def _listed(value: str | Sequence[str]) -> list[str]:
  return [value] if isinstance(value, str) else list(value)


def _range_within(video: Video, text: str, default: range, frames: range, what: str) -> range:
  chosen = video.frame_range(text) if text else default
  inside = range(max(chosen.start, frames.start), min(chosen.stop, frames.stop))
  if not len(inside):
    raise UserInputError(f"{what} frames {chosen.start}:{chosen.stop} of {video.path!r} do not "
                         f"overlap the filtered frames {frames.start}:{frames.stop} (see --frames)")
  return inside


@dataclasses.dataclass(frozen=True)
class _Labels:
  """The labels of the filtered frames (clip after clip) and which rows calibrate the cascade
  and which measure it: the task's val and test chunk of every video unless given."""

  truth: np.ndarray  # (N,) 0/1
  calibration: np.ndarray  # (N,) bool
  evaluation: np.ndarray  # (N,) bool
  where: dict[str, str]  # "calibration"/"evaluation" → the frames, in words


def _labels(job: Job, task, clips: list[Clip]) -> _Labels:
  files = _listed(job.labels_csv)
  if len(files) != len(clips):
    raise UserInputError(f"--labels_csv names {len(files)} label file(s) for {len(clips)} "
                         f"video(s): give one per video, in the same order")
  truth, masks, where = [], {"calibration": [], "evaluation": []}, {}
  for clip, labels_csv in zip(clips, files, strict=True):
    labels = noscope.frame_labels(labels_csv, task, clip.video.num_frames, video=clip.video.path)
    truth.append(labels[clip.frames])
    plan = noscope.chunk_plan(task, clip.video.num_frames, video=clip.video.path)
    for what, text, split in (("calibration", job.calibration, "val"),
                              ("evaluation", job.evaluation, "test")):
      span = _range_within(clip.video, text, range(*plan.ranges[split]), clip.frames, what)
      mask = np.zeros(len(clip), bool)
      mask[span.start - clip.frames.start:span.stop - clip.frames.start] = True
      masks[what].append(mask)
      where[what] = f"frames {span.start}:{span.stop}"  # in words for one video
  masks = {what: np.concatenate(parts) for what, parts in masks.items()}
  if len(clips) > 1:
    where = {what: f"{mask.sum()} frames of {len(clips)} videos" for what, mask in masks.items()}
  return _Labels(np.concatenate(truth), masks["calibration"], masks["evaluation"], where)


def _load(workdir: str, options: FilterOptions) -> _Filter:
  predictor = predict.load(workdir, batch_images=options.batch_images)
  video_filter.noscope_task(predictor)
  options.check(predictor.fold)
  return _Filter(workdir, predictor)


def _percent(value: float) -> str:
  return f"{100 * value:.1f}%"


def _cascade_lines(name: str, result: FilterResult, labels: _Labels, job: Job,
                   reference: float):
  """Lines for one filter's accuracy and cascade, and the cascade's system frames/s."""
  calibration, evaluation = labels.calibration, labels.evaluation
  thresholds = cascade.choose_thresholds(result.probabilities[calibration],
                                         labels.truth[calibration], job.target_error,
                                         job.confidence)
  outcome = cascade.evaluate(thresholds, result.probabilities[evaluation],
                             result.decisions[evaluation], labels.truth[evaluation])
  system = cascade.system_frames_per_second(result.frames_per_second, outcome.forwarded,
                                            reference)
  lines = [
      f"accuracy ({name}): {np.mean(result.decisions == labels.truth):.4f} on all "
      f"{len(labels.truth)} frames, {outcome.filter_accuracy:.4f} on "
      f"{labels.where['evaluation']}",
      f"cascade ({name}): thresholds low {thresholds.low:.4g}, high {thresholds.high:.4g} "
      f"chosen on {labels.where['calibration']} for error <= {job.target_error:g}"
      f"{f' at {_percent(job.confidence)} confidence' if job.confidence else ''}; "
      f"on {labels.where['evaluation']}: error {outcome.error:.4f}, forwarded "
      f"{_percent(outcome.forwarded)} -> system {system:,.1f} frames/s"]
  return outcome, system, lines


def run(job: Job, say: Callable[[str], None] = print) -> Report:
  """Runs the job, saying each report line as soon as it is known."""
  if os.path.isdir(job.out):
    raise UserInputError(f"--out={job.out} is a directory; name the CSV to write")
  videos = [Video(path) for path in _listed(job.video)]
  clips = [Clip(video, video.frame_range(job.frames)) for video in videos]
  main = _load(job.workdir, job.options)
  task = video_filter.noscope_task(main.predictor)
  filters = [main] + ([_load(job.compare, job.options)] if job.compare else [])
  for other in filters[1:]:
    if other.predictor.task_id != task.id:
      raise UserInputError(f"--compare={job.compare} is task {other.predictor.task_id}, but "
                           f"--workdir={job.workdir} is task {task.id}")
  labels = _labels(job, task, clips) if job.labels_csv else None
  if labels is None and job.compare:
    raise UserInputError("--compare needs --labels_csv (a is an accuracy difference)")

  results = []
  for index, item in enumerate(filters):
    result = video_filter.filter_clips(item.predictor, clips, job.options)
    results.append(result)
    if index == 0:
      result.write_csv(job.out)
      what = (f"frames {clips[0].frames.start}:{clips[0].frames.stop}" if len(clips) == 1
              else f"{len(clips)} videos")
      say(f"wrote {job.out}: {len(result.frames)} rows ({what})")
    shares = ", ".join(f"{stage} {_percent(share)}" for stage, share in
                       result.stage_shares().items())
    device = jax.devices()[0].platform
    say(f"filter {item.name()}: {result.frames_per_second:,.0f} frames/s end to end "
        f"({len(result.frames)} frames in {result.seconds:.2f} s, {result.grouping} grouping, "
        f"resized on the {result.resize}, {jax.local_device_count()} {device} device(s)); "
        f"time share: {shares}")
  if job.bounds:
    _say_bounds(main, results[0], clips, task, job.options, say)
  if labels is None:
    return Report(results)

  reference = job.reference_images_per_second
  if reference <= 0:
    from foldedcnn_jax import reference_model

    reference = reference_model.images_per_second()
    say(f"reference: ResNet-50 (random weights) {reference:,.1f} images/s measured on "
        f"{jax.devices()[0].platform}")
  else:
    say(f"reference: {reference:,.1f} images/s (given)")
  outcomes, systems = [], []
  for item, result in zip(filters, results, strict=True):
    outcome, system, lines = _cascade_lines(f"f={item.predictor.fold}", result, labels, job,
                                            reference)
    outcomes.append(outcome)
    systems.append(system)
    for line in lines:
      say(line)
  comparison = None
  if job.compare:
    comparison = _say_section_g(filters, results, outcomes, systems, reference, say)
  return Report(results, outcomes, systems, comparison)


def _say_bounds(item: _Filter, result: FilterResult, clips: list[Clip], task,
                options: FilterOptions, say: Callable[[str], None]) -> None:
  """The ceilings of the end-to-end rate, each over the same frames: decoding alone (all
  decoding threads), the whole input stage (decoding and resizing), and the model alone (inputs
  already on the devices). When the model runs on the CPU the stages share its cores, so they
  cannot overlap: the host's stage (decoding, and resizing unless the device resizes) and the
  model then take 1/(1/host + 1/model) at best."""
  fold, end_to_end = item.predictor.fold, result.frames_per_second
  decode = rates.decode_frames_per_second(clips, task.input_hw, fold, options)
  inputs = rates.decode_frames_per_second(clips, task.input_hw, fold, options, resize=True)
  model = rates.model_images_per_second(
      item.predictor.runner.replicated(), batch_images=options.batch_images,
      num_images=len(result.frames), trials=1, fetch=True)
  workers = len(options.lanes([len(clip) for clip in clips], fold))
  say(f"bounds: decode only {decode:,.0f} frames/s ({workers} decoding threads), decode and "
      f"resize {inputs:,.0f}, model only {model:,.0f} frames/s (batch {options.batch_images}); "
      f"end to end {end_to_end:,.0f} = {end_to_end / min(decode, model):.2f} x min(decode, "
      f"model)")
  if jax.devices()[0].platform == "cpu":
    host = decode if result.resize == "device" else inputs  # what the host threads do
    shared = 1 / (1 / host + 1 / model)
    say(f"bounds: the model runs on the same {os.cpu_count()} CPU cores as decoding, so the "
        f"stages add up: at best 1/(1/{host:,.0f} + 1/{model:,.0f}) = {shared:,.0f} frames/s; "
        f"end to end = {end_to_end / shared:.2f} x that")


def _say_section_g(filters, results, outcomes, systems, reference: float,
                   say: Callable[[str], None]) -> cascade.FoldingComparison:
  """§G: x and a measured, the break-even T_g/T_s, and which filter the system should run."""
  folded, unfolded = (0, 1) if filters[0].predictor.fold >= filters[1].predictor.fold else (1, 0)
  comparison = cascade.compare_folding(
      results[folded].frames_per_second, outcomes[folded].filter_accuracy,
      results[unfolded].frames_per_second, outcomes[unfolded].filter_accuracy, reference)
  names = [f"f={item.predictor.fold}" for item in filters]
  verdict = "pays" if comparison.folding_pays else "does not pay"
  say(f"§G: x = {comparison.speedup:.3f} ({names[folded]} / {names[unfolded]} frames/s), "
      f"a = {comparison.accuracy_gap:+.4f} (accuracy {names[unfolded]} - {names[folded]}) -> "
      f"break-even T_g/T_s = {comparison.break_even:.4g}; measured T_g/T_s = "
      f"{comparison.reference_over_filter:.4g}, so folding {verdict}")
  best = int(np.argmax(systems))
  say(f"system throughput with this reference: {names[0]} {systems[0]:,.1f}, {names[1]} "
      f"{systems[1]:,.1f} frames/s -> {names[best]} ({filters[best].workdir}) is faster")
  return comparison
