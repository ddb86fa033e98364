r"""Inference throughput of original vs FoldedCNNs (XLA-compiled, AOT, timed on device).

  python -m experiments.benchmark --tasks=v1,n2 --folds=1,2,3,4 --batch_sizes=1024 \
      --dtype=float16 --trials=10 --out=results/bench.csv
  python -m experiments.benchmark --config=configs/benchmark.py:sweep [--config.trials=5]
  python -m experiments.benchmark --tasks=n2 --folds=1,4 --peers=torch_channels_last,onnxruntime
  python -m experiments.benchmark --tasks=n2 --folds=4 --onnx_files=n2_f4.onnx --tune=off

Each JAX row runs the default path: the execution variant the autotuner found fastest on this
device (`--tune=cached`, the default; `always` tunes again; `off` keeps XLA's defaults), unless
explicit variants are swept (`--micro_batch`, `--compiler_options`). A shorthand flag sets the
config field of the same name; giving it together with `--config.<field>` is an error. Each
configuration prints one progress line; a failed one (e.g. out of memory) is recorded as failed
and the sweep goes on. Then `python -m experiments.plot <csv>` draws the figures.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from foldedcnn_jax import cli
from foldedcnn_jax.cli import fail
from foldedcnn_jax.errors import UserInputError

_DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "benchmark.py")
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "configs/benchmark.py[:sweep|tile|cpu|twins|runlocal] (the default: configs/"
    "benchmark.py)", lock_config=True)

# Shorthand flags for the most used config fields (None: keep the config's value). Giving
# both a shorthand and its --config.<field> is an error, never a silent override.
_LISTS = {
    "tasks": (str, "Task ids, e.g. v1,n2."),
    "folds": (int, "Fold factors, e.g. 1,2,3,4."),
    "batch_sizes": (int, "Images per call, e.g. 256,1024."),
    "micro_batch": (int, "Explicit chunk sizes in images, e.g. 0,64 (0: the whole batch)."),
    "width_rounding": (int, "Width roundings, e.g. 1,8 (§H)."),
    "peers": (str, "Peers timed in the same run: torch, torch_channels_last, torch_compile, "
                   "onnxruntime."),
    "onnx_files": (str, "Exported models to time on ONNX Runtime."),
}
_OVERRIDES = {name: flags.DEFINE_list(name, None, help_text)
              for name, (_, help_text) in _LISTS.items()}
_OVERRIDES.update({
    "dtype": flags.DEFINE_string("dtype", None, "auto | float32 | float16 | bfloat16."),
    "trials": flags.DEFINE_integer("trials", None, "Timed trials per configuration."),
    "out": flags.DEFINE_string("out", None, "CSV to write (rewritten after every row)."),
    "include_transfer": flags.DEFINE_bool("include_transfer", None,
                                          "Time the host→device copy on every call."),
    "interleave": flags.DEFINE_bool("interleave", None,
                                    "Time a task's configurations round-robin, trial by trial."),
    "compound": flags.DEFINE_bool("compound", None, "Also time the EfficientNet-style baseline."),
    "narrow": flags.DEFINE_bool("narrow", None, "Also time each f > 1 model's narrow twin."),
    "embedded": flags.DEFINE_bool("embedded", None, "Also time each f > 1 folded model with a "
                                  "twin in every slot (zero weights between slots)."),
    "peaks": flags.DEFINE_string("peaks", None, "auto | table | measure | none."),
    "tune": flags.DEFINE_enum("tune", None, ["off", "cached", "always"],
                              "The default path's variant: the tuning cache's, tuned again, or "
                              "XLA's defaults."),
    "compiler_options": flags.DEFINE_string(
        "compiler_options", None, "Explicit XLA option sets key=value,... separated by ';', "
        "e.g. 'default;xla_cpu_experimental_ynn_fusion_type='."),
})


def _flag_value(name: str, value):
  if name in _LISTS:
    kind = _LISTS[name][0]
    try:
      return tuple(kind(item) for item in value)
    except ValueError:
      fail(f"--{name}: {','.join(value)!r} is not a list of {kind.__name__}s")
  if name == "compiler_options":
    return tuple(part.strip() for part in value.split(";"))
  return value


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    fail(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:  # keep JAX's backend probing quiet
    logging.set_verbosity(logging.WARNING)
  from foldedcnn_jax.bench import sweep  # JAX loads only after the flags are known to be good

  config = _CONFIG.value
  for name, flag in _OVERRIDES.items():
    if flag.value is None:
      continue
    if any(argument.startswith(f"--config.{name}=") for argument in sys.argv[1:]):
      fail(f"--{name} and --config.{name} both set {name}; give one of them")
    setattr(config, name, _flag_value(name, flag.value))
  try:
    plan = sweep.plan_sweep(config)
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
