r"""Inference throughput of original vs FoldedCNNs (XLA-compiled, AOT, timed on device).

  python -m experiments.benchmark --tasks=v1,n2 --folds=1,2,3,4 --batch_sizes=1024 \
      --dtype=float16 --trials=10 --out=results/bench.csv
  python -m experiments.benchmark --config=configs/benchmark.py:sweep [--config.trials=5]

A flag given on the command line overrides the config field of the same name. Each
configuration prints one progress line; a failed one (e.g. out of memory) is recorded as failed
and the sweep goes on. Then `python -m experiments.plot <csv>` draws the figures.
"""

from __future__ import annotations

import os

from absl import app, flags, logging
from ml_collections import config_flags

from foldedcnn_jax import cli
from foldedcnn_jax.cli import fail
from foldedcnn_jax.errors import UserInputError

_DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "benchmark.py")
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "configs/benchmark.py[:sweep|tile|cpu|runlocal] (the default: configs/"
    "benchmark.py)", lock_config=True)

# Shorthand flags for the most used config fields (None: keep the config's value).
_OVERRIDES = {
    "tasks": flags.DEFINE_string("tasks", None, "Comma-separated task ids, e.g. v1,n2."),
    "folds": flags.DEFINE_string("folds", None, "Comma-separated fold factors, e.g. 1,2,3,4."),
    "batch_sizes": flags.DEFINE_string("batch_sizes", None, "Comma-separated images per call."),
    "dtype": flags.DEFINE_string("dtype", None, "auto | float32 | float16 | bfloat16."),
    "trials": flags.DEFINE_integer("trials", None, "Timed trials per configuration."),
    "out": flags.DEFINE_string("out", None, "CSV to write (rewritten after every row)."),
    "include_transfer": flags.DEFINE_bool("include_transfer", None,
                                          "Time the host→device copy on every call."),
    "micro_batch": flags.DEFINE_string("micro_batch", None,
                                       "Comma-separated chunk sizes in images, e.g. 0,64 "
                                       "(0: the whole batch at once)."),
    "interleave": flags.DEFINE_bool("interleave", None,
                                    "Time a task's configurations round-robin, trial by trial."),
    "compound": flags.DEFINE_bool("compound", None, "Also time the EfficientNet-style baseline."),
    "width_rounding": flags.DEFINE_string("width_rounding", None,
                                          "Comma-separated roundings, e.g. 1,8 (§H)."),
    "compare_torch": flags.DEFINE_bool("compare_torch", None,
                                       "Also time the eager PyTorch reference (CPU)."),
    "peaks": flags.DEFINE_string("peaks", None, "auto | table | measure | none."),
    "compiler_options": flags.DEFINE_string(
        "compiler_options", None, "XLA options key=value,...; ';' separates sets to compare, "
        "e.g. 'default;xla_cpu_experimental_ynn_fusion_type='."),
}


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    fail(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:  # keep JAX's backend probing quiet
    logging.set_verbosity(logging.WARNING)
  from foldedcnn_jax.bench import sweep  # JAX loads only after the flags are known to be good

  config = _CONFIG.value
  for name, flag in _OVERRIDES.items():
    if flag.value is not None:
      setattr(config, name, flag.value)
  try:
    plan = sweep.make_plan(config)
  except UserInputError as error:
    fail(str(error))
  records = sweep.run_sweep(plan, progress=lambda line: print(line, flush=True))
  print(sweep.summary_table(records))
  failed = sum(not record.ok for record in records)
  print(f"wrote {len(records)} rows ({failed} failed) to {plan.out}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.config_flags_parser(
      _CONFIG, fields_file="configs/benchmark.py",
      default_config=os.path.normpath(_DEFAULT_CONFIG)))
