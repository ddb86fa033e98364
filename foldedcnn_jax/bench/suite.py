"""The GPU measurement as one prepared run: a list of steps, each a fresh process with a time limit.

A GPU comes in short windows, so everything that must be measured on it is one command
(`python -m experiments.gpu_suite --out=DIR`) that is known to work before a GPU is seen: the
same steps run at tiny sizes on the CPU (`--dry_run`, tested in CI). Each step is an existing
entry point (benchmark, peers, training throughput, per-layer profile) run as its own process,
so one failing or slow step is logged and the next one still runs; the suite as a whole stops
starting steps once its deadline has passed. It never changes clocks, power limits or other
device settings: it measures the card as found.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

LOG_FILE = "suite.log"
BENCH_FILE = "bench.csv"  # every inference row of the suite, merged
ACCURACY_FILE = "accuracy_speed.png"
MAX_FILES = 8  # what comes back from a GPU machine
# The paper's f = 4 speedups over f = 1 (V100, TensorRT, fp16, batch 1024), where it gives one.
PAPER_SPEEDUP_F4 = {"n2": 2.50, "v5": 1.75, "v6": 1.71, "g32": 1.74, "g64": 1.59}


@dataclasses.dataclass(frozen=True)
class Step:
  """One entry point to run: `python -m <module> <args>`, stopped after `seconds`."""

  name: str
  module: str
  args: tuple[str, ...]
  seconds: float
  outputs: tuple[str, ...] = ()  # files (relative to the out dir) the step writes


@dataclasses.dataclass(frozen=True)
class StepResult:
  name: str
  status: str  # "ok" | "failed (exit N)" | "timed out" | "skipped (deadline)"
  seconds: float
  outputs: tuple[str, ...]


def run_steps(steps: Sequence[Step], out_dir: str, *, deadline_seconds: float,
              progress: Callable[[str], None] = print,
              environment: dict[str, str] | None = None) -> list[StepResult]:
  """Runs the steps in order, appending their output to `out_dir/suite.log`."""
  os.makedirs(out_dir, exist_ok=True)
  started = time.monotonic()
  results = []
  with open(os.path.join(out_dir, LOG_FILE), "a") as log:
    for step in steps:
      left = deadline_seconds - (time.monotonic() - started)
      if left <= 1:
        results.append(StepResult(step.name, "skipped (deadline)", 0.0, ()))
        progress(f"[{step.name}] skipped: the suite's deadline has passed")
        continue
      command = [sys.executable, "-m", step.module, *step.args]
      log.write(f"\n===== {step.name}: {' '.join(command)}\n")
      log.flush()
      progress(f"[{step.name}] {' '.join(command[2:])}")
      step_started = time.monotonic()
      try:
        completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                   timeout=min(step.seconds, left),
                                   env={**os.environ, **(environment or {})})
        status = "ok" if completed.returncode == 0 else f"failed (exit {completed.returncode})"
      except subprocess.TimeoutExpired:
        status = "timed out"
      seconds = time.monotonic() - step_started
      written = tuple(path for path in step.outputs if os.path.isfile(os.path.join(out_dir, path)))
      log.write(f"===== {step.name}: {status} after {seconds:.1f} s\n")
      log.flush()
      results.append(StepResult(step.name, status, seconds, written))
      progress(f"[{step.name}] {status} after {seconds:.1f} s")
  return results


def format_results(results: Sequence[StepResult]) -> str:
  width = max((len(result.name) for result in results), default=4)
  lines = [f"{'step':<{width}}  {'status':<20} {'seconds':>8}  files"]
  for result in results:
    lines.append(f"{result.name:<{width}}  {result.status:<20} {result.seconds:>8.1f}  "
                 f"{', '.join(result.outputs) or '-'}")
  return "\n".join(lines)


def _tuple(values) -> str:
  """A config tuple as an ml_collections command-line value, e.g. ('n2','v1')."""
  return "(" + ",".join(repr(value) for value in values) + ("," if len(values) == 1 else "") + ")"


def plan_steps(config, out_dir: str) -> list[Step]:
  """The suite's steps for a configs/gpu_suite.py config, writing into `out_dir`."""
  seconds = config.step_seconds
  common = (f"--config.trials={config.trials}",
            f"--config.min_trial_seconds={config.min_trial_seconds}",
            f"--config.tune_cache={config.work_dir}/tune_cache.json")
  # The sweep tunes; later steps reuse its choices (tuning every step again cost the first
  # H100 run most of its peers step) and tune only what the sweep did not reach.
  later_tune = "cached" if config.tune == "always" else config.tune

  def benchmark(name, out, *, tasks, folds, batches, dtype, compound=False, twins=False,
                peers=(), variant="") -> Step:
    tune = config.tune if name == "sweep" else later_tune
    args = (f"--config=configs/benchmark.py{':' + variant if variant else ''}",
            f"--config.tasks={_tuple(tasks)}", f"--config.folds={_tuple(folds)}",
            f"--config.batch_sizes={_tuple(batches)}", f"--config.dtype={dtype}",
            f"--config.compound={compound}", f"--config.narrow={twins}",
            f"--config.embedded={twins}", f"--config.peers={_tuple(peers)}",
            f"--config.out={out_dir}/{out}", f"--config.tune={tune}", *common)
    return Step(name, "experiments.benchmark", args, seconds[name], (out,))

  train_args = (f"--tasks={','.join(config.train_tasks)}",
                f"--folds={','.join(map(str, config.train_folds))}",
                f"--scale={config.train_scale}", f"--trials={config.train_trials}",
                "--notorch", f"--out={out_dir}/train_throughput.csv")
  steps = [
      benchmark("sweep", "bench_sweep.csv", tasks=config.tasks, folds=config.folds,
                batches=(config.batch,), dtype=config.dtype, compound=config.compound),
      # The narrow twins and the block-diagonal folded models, with their f = 1 and folded
      # models again in the same run (their tuning is the sweep's, from the cache).
      benchmark("twins", "bench_twins.csv", tasks=config.twin_tasks, folds=config.twin_folds,
                batches=(config.batch,), dtype=config.dtype, twins=True),
      benchmark("peers", "bench_peers.csv", tasks=config.peer_tasks, folds=config.peer_folds,
                batches=(config.batch,), dtype=config.dtype, peers=config.peers),
      Step("train", "experiments.benchmark_train", train_args, seconds.train,
           ("train_throughput.csv",)),
      *_filter_steps(config),
      benchmark("batch_sweep", "bench_batch_sweep.csv", tasks=config.sweep_tasks,
                folds=(1, config.profile_fold), batches=config.sweep_batches,
                dtype=config.dtype),
      Step("profile", "experiments.profile_layers",
           (f"--slowest_of={out_dir}/bench_sweep.csv", f"--fold={config.profile_fold}",
            f"--batch={config.batch}", f"--dtype={config.dtype}", "--kernels",
            f"--trials={min(config.trials, 5)}",
            f"--out={out_dir}/profile.txt"),
           seconds.profile, ("profile.txt",)),
  ]
  if config.second_dtype:
    steps.append(benchmark("second_dtype", "bench_second_dtype.csv",
                           tasks=config.second_dtype_tasks,
                           folds=(1, config.profile_fold), batches=(config.batch,),
                           dtype=config.second_dtype))
  return steps


def _filter_steps(config) -> list[Step]:
  """The video filter end to end on the device (issue 14's overlap target): make an n2 scene
  video of `filter_frames_per_chunk` frames per chunk, train a one-epoch f = 4 model on it, and
  run `filter_video --bounds` over the whole video, then again resizing on the host (their
  lines go to suite.log)."""
  from foldedcnn_jax.data import scene_video
  from foldedcnn_jax.tasks import get_task

  data_dir, workdir = f"{config.work_dir}/filter_data", f"{config.work_dir}/filter_f4"
  scene = scene_video.SceneOptions(frames_per_chunk=config.filter_frames_per_chunk)
  video, labels_csv = scene_video.scene_files(get_task("n2"), f"{data_dir}/videos", options=scene)
  seconds = config.step_seconds
  filter_args = (f"--workdir={workdir}", f"--video={video}",
                 f"--out={config.work_dir}/filter.csv", "--progress=false",
                 f"--batch_images={config.filter_batch_images}")
  return [
      Step("filter_data", "experiments.make_dataset",
           ("--task=n2", f"--data_dir={data_dir}",
            f"--scene_frames_per_chunk={config.filter_frames_per_chunk}", "--progress=false"),
           seconds.filter_data),
      Step("filter_train", "experiments.train",
           ("--config=configs/n2.py:quick", "--config.fold=4", "--config.num_epochs=1",
            "--config.data.scale=1",  # the chunk filter_data made: nothing more to ingest
            "--config.warm_start.slot_epochs=0", f"--config.workdir={workdir}",
            f"--config.data.data_dir={data_dir}", f"--config.data.video={video}",
            f"--config.data.labels_csv={labels_csv}", "--config.progress=False"),
           seconds.filter_train),
      Step("filter", "experiments.filter_video", (*filter_args, "--bounds"), seconds.filter),
      # The same job with the host resizing (the default on an accelerator resizes on it).
      Step("filter_host", "experiments.filter_video", (*filter_args, "--resize=host"),
           seconds.filter_host),
  ]


def merge_bench_csvs(out_dir: str, results: Sequence[StepResult]) -> list:
  """Every inference row of the steps in one bench.csv; the per-step CSVs are removed."""
  from foldedcnn_jax.bench import records

  rows, parts = [], []
  for result in results:
    for name in result.outputs:
      if name.startswith("bench_") and name.endswith(".csv"):
        parts.append(os.path.join(out_dir, name))
        rows.extend(records.read_csv(parts[-1]))
  if rows:
    records.write_csv(rows, os.path.join(out_dir, BENCH_FILE))
  for path in parts:
    os.remove(path)
  return rows


def accuracy_figure(rows: Sequence, config, out_dir: str) -> str:
  """Test accuracy vs images/s, every task in one figure, if a file is left under MAX_FILES;
  returns the line to print."""
  from foldedcnn_jax import accuracy_plots, plots

  if len(os.listdir(out_dir)) >= MAX_FILES:
    return (f"no room for {ACCURACY_FILE} ({MAX_FILES} files): draw it with python -m "
            f"experiments.plot {BENCH_FILE} --accuracy_csv={config.accuracy_csv}")
  path = os.path.join(out_dir, ACCURACY_FILE)
  accuracy_plots.accuracy_vs_throughput(plots.select(rows, dtype=config.dtype),
                                        accuracy_plots.read_accuracy(config.accuracy_csv), path)
  return f"wrote {path}"


def _rate(value: float) -> str:
  return "-" if value != value else f"{value:,.0f}"


def summary(rows: Sequence, dtype: str, batch: int, peer_tasks: Sequence[str],
            fold: int = 4) -> str:
  """The short table printed last: f = `fold` speedups (the paper's beside f = 4), the peers."""
  lines = []
  jax_rows = [r for r in rows if r.ok and r.framework == "jax" and r.model == "folded"
              and r.dtype == dtype and r.batch_images == batch and not r.source_file]
  if jax_rows:
    first = jax_rows[0]
    lines.append(f"{first.device_kind}, jax {first.jax_version}, {dtype}, batch {batch}")
    by_key = {(r.task, r.fold): r for r in jax_rows}
    lines.append(f"{'task':5s} {'f=1 img/s':>12s} {f'f={fold} img/s':>12s} {'speedup':>8s} "
                 f"{'FLOP/s x':>8s} {'paper':>6s}")
    speedups = []
    for task in dict.fromkeys(r.task for r in jax_rows):
      one, four = by_key.get((task, 1)), by_key.get((task, fold))
      if not one or not four:
        continue
      speedup = four.images_per_second_median / one.images_per_second_median
      flops = four.flops_per_second / one.flops_per_second
      speedups.append(speedup)
      paper = PAPER_SPEEDUP_F4.get(task) if fold == 4 else None
      lines.append(f"{task:5s} {_rate(one.images_per_second_median):>12s} "
                   f"{_rate(four.images_per_second_median):>12s} {speedup:8.2f} {flops:8.2f} "
                   f"{paper if paper else '-':>6}")
    if speedups:
      lines.append(f"median f={fold} speedup {sorted(speedups)[len(speedups) // 2]:.2f}x")
  peers = [r for r in rows if r.ok and r.task in peer_tasks and r.batch_images == batch
           and r.model == "folded" and r.dtype == dtype and not r.source_file]
  frameworks = list(dict.fromkeys(r.framework for r in peers))
  if len(frameworks) > 1:
    rates = {(r.framework, r.task, r.fold): r.images_per_second_median for r in peers}
    lines.append("")
    lines.append(f"{'task':5s} {'f':>2s} " + " ".join(f"{name:>20s}" for name in frameworks))
    for task, fold in dict.fromkeys((r.task, r.fold) for r in peers):
      lines.append(f"{task:5s} {fold:2d} " + " ".join(
          f"{_rate(rates.get((name, task, fold), float('nan'))):>20s}" for name in frameworks))
  failed = [r for r in rows if not r.ok]
  if failed:
    lines.append(f"{len(failed)} failed rows (see {BENCH_FILE}), e.g. {failed[0].task} "
                 f"f={failed[0].fold} {failed[0].framework}: {failed[0].error[:80]}")
  return "\n".join(lines)
