"""Inference benchmark sweeps (experiments/benchmark.py); every field can be overridden.

  python -m experiments.benchmark --config=configs/benchmark.py
      The paper's headline (Figure 7): every task, f = 1..4, batch 1024, 10 trials, the
      EfficientNet-style baseline; fp16 on a GPU, fp32 on a CPU (dtype "auto"). Prints one line
      per configuration, "[4/60] v1 f=4 batch=1024: <images/s> (±<std>), <GFLOP/s>, <speedup>x
      vs f=1", then a summary table, and writes results/bench.csv. (g32/g64's compound rows
      fail: compound_scaled turns their first conv into a grouped one.)
  --config=configs/benchmark.py:sweep    §F / Figure 8: batch sizes 64..2048.
  --config=configs/benchmark.py:tile     §H: widened channels also rounded up to a multiple of 8.
  --config=configs/benchmark.py:cpu      the CPU sweep committed under results/cpu/: v1-v6 and
                                         n1-n4, f = 1 and 4, batch 1024, fp32, the tuned default
                                         path against every peer (PyTorch eager NCHW and
                                         channels_last, torch.compile, ONNX Runtime; a missing
                                         one is skipped with a note), 5 trials interleaved.
                                         About 1 min per task on a quiet 2-core CPU plus the
                                         tuning and torch.compile time; it prints e.g. "[2/100]
                                         v1 f=4 batch=1024 tuned[chunks=64 xla[...]]: <images/s>
                                         ..., 2.01x vs f=1" and "[8/100] v1 f=4 batch=1024
                                         [torch_compile]: ...".
  --config=configs/benchmark.py:twins    results/cpu/bench_twins.csv: v1-v6 and n1-n4, f = 1, 2
                                         and 4, each f > 1 with its narrow twin and the
                                         block-diagonal (embedded) folded model, fp32, batch
                                         1024, tuned default path, 3 trials interleaved.
  --config=configs/benchmark.py:runlocal a seconds-long smoke run on the tiny task.
"""

from __future__ import annotations

import ml_collections

VARIANTS = ("", "sweep", "tile", "cpu", "twins", "runlocal")
ALL_TASKS = ("v1", "v2", "v3", "v4", "v5", "v6", "n1", "n2", "n3", "n4", "g32", "g64")
# XLA:CPU's default (YNNPACK fusions) and its Eigen kernels: either can be the faster one.
CPU_OPTION_SETS = ("default", "xla_cpu_experimental_ynn_fusion_type=")
PEERS = ("torch", "torch_channels_last", "torch_compile", "onnxruntime")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The benchmark config; `arg` picks one of VARIANTS."""
  variant = arg or ""
  if variant not in VARIANTS:
    raise ValueError(f"unknown benchmark variant {variant!r}; use one of: "
                     f"{', '.join(v for v in VARIANTS if v)}")
  config = ml_collections.ConfigDict()
  config.tasks = ALL_TASKS  # task ids
  config.folds = (1, 2, 3, 4)
  config.batch_sizes = (1024,)  # images per call (a batch is ceil(N/f) folded inputs)
  config.dtype = "auto"  # auto: float16 on GPU, bfloat16 on TPU, float32 on CPU
  config.trials = 10
  config.warmup_calls = 3
  config.min_trial_seconds = 0.2  # calls per trial are chosen so a trial lasts this long
  # Time a task's configurations round-robin, trial by trial, so that a shared machine's
  # drifting load affects all of them alike and their ratios stay fair.
  config.interleave = True
  config.include_transfer = False  # time the host→device copy of the batch on every call
  # The default path: each JAX model runs the execution variant the autotuner found fastest
  # (runtime/tune.py): "cached" (the tuning cache's choice, tuned once if absent), "always"
  # (tune again) or "off" (XLA's defaults). tune_cache: the cache file ("": the default,
  # $FOLDEDCNN_TUNE_CACHE or ~/.cache/foldedcnn_jax/tune.json).
  config.tune = "cached"
  config.tune_cache = ""
  config.tune_budget_seconds = 120.0  # per model tuned: compiling and timing stop past it
  # Explicit variants, swept instead of the default path (one row each): chunk sizes in images
  # (0: the whole batch; > 0: a lax.map over chunks) and XLA option sets "key=value,…"
  # ("default": none), e.g. CPU_OPTION_SETS.
  config.micro_batch = (0,)
  config.compiler_options = ("default",)
  config.compound = True  # also time the EfficientNet-style compound-scaled baseline
  # For every f > 1 also time the folded model's narrow twin (models/slots.slot_spec, run
  # unfolded on the same images) and the folded model with a twin in each slot ("embedded":
  # zero weights between slots, which the tuner may run slot by slot: `:twins` and
  # --embedded; off by default, as it is the narrow twin's function at the folded model's
  # cost). Not for g32/g64.
  config.narrow = True
  config.embedded = False
  config.width_rounding = (1,)  # values > 1 add rounded-width variants (§H)
  # Peers timed in the same run on the same weights, logits checked first (bench/peers.py);
  # one whose package is missing is skipped with a note.
  config.peers = ()
  config.onnx_files = ()  # exported models (experiments.export) to time on ONNX Runtime
  config.peaks = "auto"  # auto: device table, else measured | table | measure | none
  config.seed = 0
  config.out = "results/bench.csv"

  if variant == "sweep":
    config.batch_sizes = (64, 128, 256, 512, 1024, 2048)
    config.compound = config.narrow = config.embedded = False
    config.out = "results/bench_batch_sweep.csv"
  elif variant == "tile":
    config.width_rounding = (1, 8)
    config.compound = config.narrow = config.embedded = False
    config.out = "results/bench_tile.csv"
  elif variant == "cpu":
    config.tasks = ("v1", "v2", "v3", "v4", "v5", "v6", "n1", "n2", "n3", "n4")
    config.folds = (1, 4)
    config.trials = 5
    config.compound = config.narrow = config.embedded = False
    config.peers = PEERS
    config.peaks = "measure"
    config.out = "results/cpu/bench.csv"
  elif variant == "twins":
    config.tasks = ("v1", "v2", "v3", "v4", "v5", "v6", "n1", "n2", "n3", "n4")
    config.folds = (1, 2, 4)
    config.trials = 3
    config.compound = False
    config.embedded = True
    config.peaks = "measure"
    config.out = "results/cpu/bench_twins.csv"
  elif variant == "runlocal":
    config.tasks = ("tiny",)
    config.folds = (1, 2)
    config.batch_sizes = (32,)
    config.trials = 2
    config.warmup_calls = 1
    config.min_trial_seconds = 0.0
    config.compound = config.narrow = config.embedded = False
    config.peaks = "none"
    config.tune_cache = "/tmp/foldedcnn_tune_runlocal.json"
    config.out = "/tmp/foldedcnn_bench_runlocal.csv"
  return config
