"""The GPU measurement in one call (experiments/gpu_suite.py); `:dry_run` is the same on a CPU.

On the GPU machine (no network; carry .whl/ made by experiments/download_gpu_wheels.sh):

  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && \
    PYTHONPATH=/tmp/site:$PWD python3 -m experiments.gpu_suite --out=$OUT

Here, before any GPU is seen (tiny sizes, < 2 minutes, what CI runs):

  python -m experiments.gpu_suite --config=configs/gpu_suite.py:dry_run --out=/tmp/suite

Steps, most important first; each is a fresh process with its own time limit, and the suite
starts no step after `deadline_seconds`: (1) fp16 inference sweep, every task + g32/g64 + the
compound baseline, f = 1..4, batch 1024, on the autotuned default path; (1b) the narrow
twins and block-diagonal (embedded) folded models of v1-v6, n1-n4 at f = 2 and 4 beside their
f = 1 and folded models; (2) peers in the same
run (PyTorch eager channels_last, torch.compile, ONNX Runtime) on n2, v1, v3, n4 at f = 1, 4;
(3) training throughput for n2 and v1 at f = 1, 4; (4) the video filter end to end with its
bounds (an n2 scene video, a one-epoch f = 4 model; does decoding on the CPU overlap the model on
the GPU?), resizing on the GPU (the default there) and then on the host; (5) batch sweep 64…2048
for n2, v1, n4 (the Figure 8 analog); (6) a per-layer profile and the compiled kernels of the
slowest f = 4 task; (7) the bf16 sweep; then figures and a short table. At most 8 files come
back: bench.csv
(every inference row), train_throughput.csv, profile.txt, suite.log and the figures (test
accuracy vs images/s from `accuracy_csv`, if room is left under the 8; else draw it here with
`python -m experiments.plot bench.csv --accuracy_csv=results/accuracy/cpu.csv`).
"""

from __future__ import annotations

import ml_collections

ALL_TASKS = ("v1", "v2", "v3", "v4", "v5", "v6", "n1", "n2", "n3", "n4", "g32", "g64")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variant = arg or ""
  if variant not in ("", "dry_run"):
    raise ValueError(f"unknown gpu_suite variant {variant!r}; use dry_run or nothing")
  config = ml_collections.ConfigDict()
  config.deadline_seconds = 480.0  # the whole suite: 8 minutes of a ~15-minute GPU window
  config.tasks = ALL_TASKS
  config.folds = (1, 2, 3, 4)
  config.batch = 1024
  config.trials = 10
  config.min_trial_seconds = 0.05  # a GPU call of these models takes well under a millisecond
  config.dtype = "float16"
  config.second_dtype = "bfloat16"  # "" → skip
  config.second_dtype_tasks = ALL_TASKS
  config.compound = True
  config.twin_tasks = ("n2", "v1", "v5", "v6", "n4", "v2", "v3", "v4", "n1", "n3")
  config.twin_folds = (1, 2, 4)
  config.accuracy_csv = "results/accuracy/cpu.csv"  # for the accuracy-vs-speed figure
  config.tune = "always"  # a fresh machine has no tuning cache
  config.peer_tasks = ("n2", "v1", "v3", "n4")
  config.peer_folds = (1, 4)
  config.peers = ("torch_channels_last", "torch_compile", "onnxruntime")
  config.sweep_tasks = ("n2", "v1", "n4")
  config.sweep_batches = (64, 128, 256, 512, 1024, 2048)
  config.train_tasks = ("n2", "v1")
  config.train_folds = (1, 4)
  config.train_scale = 0.05  # game tasks' dataset scale (generated on the machine)
  config.train_trials = 3
  config.profile_fold = 4
  config.filter_frames_per_chunk = 3000  # the default n2 scene: 8 chunks, 24,000 frames (~20 s)
  config.filter_batch_images = 1024
  # Datasets and the tuning cache go here, not into the output folder (8 files come back).
  config.work_dir = "/tmp/foldedcnn_gpu_suite"
  # From the first H100 run: tuning a configuration cost ~3.5 s with six candidates (fewer now;
  # 60 configurations in the sweep), the peers ~10 s per torch.compile, making the n2 video
  # ~26 s and its one-epoch model ~20 s. Steps are in order of importance: the last may not start.
  config.step_seconds = ml_collections.ConfigDict(dict(
      sweep=180.0, twins=75.0, peers=90.0, train=60.0, filter_data=35.0, filter_train=30.0,
      filter=20.0, filter_host=15.0, batch_sweep=40.0, profile=15.0, second_dtype=40.0, plots=40.0))
  if variant == "dry_run":
    config.deadline_seconds = 360.0  # a cap: about 120 s without torch (CI), 200 s with it
    config.step_seconds = ml_collections.ConfigDict(dict(
        sweep=60.0, twins=60.0, peers=100.0, train=60.0, filter_data=60.0, filter_train=60.0,
        filter=60.0, filter_host=60.0, batch_sweep=40.0, profile=40.0, second_dtype=60.0,
        plots=40.0))
    config.tasks = ("tiny", "n2")
    config.folds = (1, 2)
    config.batch = 16
    config.trials = 2
    config.min_trial_seconds = 0.0
    config.dtype = "float32"
    config.compound = False
    config.twin_tasks = ("tiny",)
    config.twin_folds = (1, 2)
    config.second_dtype_tasks = ("tiny",)
    config.peer_tasks = ("tiny",)
    config.peer_folds = (1, 2)
    config.sweep_tasks = ("tiny",)
    config.sweep_batches = (8, 16)
    config.train_tasks = ("tiny",)
    config.train_folds = (1, 2)
    config.train_scale = 1.0
    config.filter_frames_per_chunk = 40
    config.filter_batch_images = 64
    config.train_trials = 1
    config.profile_fold = 2
  return config
