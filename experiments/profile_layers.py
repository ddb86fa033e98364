r"""Per-layer times of one model: which layers dominate a forward pass, and their FLOP/s.

  python -m experiments.profile_layers --task=v1 --fold=4 [--batch=1024] [--dtype=auto] \
      [--compiler_options=xla_cpu_experimental_ynn_fusion_type=] [--kernels] [--out=FILE]
  python -m experiments.profile_layers --slowest_of=bench.csv --fold=4 --kernels

Each layer is compiled and timed on its own (random weights, the previous layer's output as
input); the last line compares the sum with the whole model compiled as one program.
`--kernels` also lists the kernels XLA compiled the whole model into (fusions, and custom calls
such as cuDNN convolutions on a GPU); `--slowest_of` profiles the task whose FoldedCNN at
`--fold` was slowest in a benchmark CSV; `--out` also writes the report to a file.
"""

from __future__ import annotations

from absl import flags, logging

from foldedcnn_jax import cli

_TASK = flags.DEFINE_string("task", "v1", "Task id (v1..v6, n1..n4, g32, g64, tiny).")
_FOLD = flags.DEFINE_integer("fold", 1, "Fold factor f >= 1.")
_BATCH = flags.DEFINE_integer("batch", 1024, "Batch size in images.")
_DTYPE = flags.DEFINE_string("dtype", "auto", "auto (fp32 on CPU, fp16 on GPU) | float32 | "
                             "float16 | bfloat16.")
_WIDTH_ROUNDING = flags.DEFINE_integer("width_rounding", 1, "Round widths up to a multiple.")
_COMPILER_OPTIONS = flags.DEFINE_string("compiler_options", "", "XLA options key=value,...")
_TRIALS = flags.DEFINE_integer("trials", 5, "Timed trials per layer.")
_KERNELS = flags.DEFINE_bool("kernels", False, "Also list the whole model's compiled kernels.")
_SLOWEST_OF = flags.DEFINE_string("slowest_of", "", "A benchmark CSV: profile the task whose "
                                  "FoldedCNN at --fold was slowest there (instead of --task).")
_OUT = flags.DEFINE_string("out", "", "Also write the report to this file.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
  if _BATCH.value < 1 or _TRIALS.value < 1:
    cli.fail("--batch and --trials must be >= 1")
  if not flags.FLAGS["verbosity"].present:  # keep JAX's backend probing quiet
    logging.set_verbosity(logging.WARNING)
  import jax  # JAX loads only after the flags are known to be good

  from foldedcnn_jax.bench import layers, records, runners, sweep
  from foldedcnn_jax.models import ModelSpec

  task = _TASK.value
  if _SLOWEST_OF.value:
    task = records.slowest_task(records.read_csv(_SLOWEST_OF.value), _FOLD.value) or cli.fail(
        f"{_SLOWEST_OF.value} has no JAX FoldedCNN row at f={_FOLD.value}")
  spec = ModelSpec.for_task(task, fold=_FOLD.value, width_rounding=_WIDTH_ROUNDING.value)
  dtype, _ = sweep.benchmark_dtype(_DTYPE.value, jax.devices()[0].platform)
  options = dict(runners.parse_compiler_options(_COMPILER_OPTIONS.value))
  settings = dict(dtype=dtype, compiler_options=options, trials=_TRIALS.value)
  timings = layers.time_layers(spec, _BATCH.value, **settings)
  whole = layers.time_whole_model(spec, _BATCH.value, **settings)
  lines = [f"{task} f={spec.fold} batch={_BATCH.value} {dtype} on "
           f"{jax.devices()[0].device_kind}" + (f" xla[{_COMPILER_OPTIONS.value}]" if options
                                                 else ""),
           layers.format_table(timings),
           f"whole model as one program: {whole * 1e3:.2f} ms "
           f"({_BATCH.value / whole:,.0f} images/s)"]
  if _KERNELS.value:
    kernels = layers.whole_model_kernels(spec, _BATCH.value, dtype=dtype,
                                         compiler_options=options)
    lines.append("kernels of the whole model: " + (", ".join(
        f"{count}x {name}" for name, count in kernels) or "none listed"))
  report = "\n".join(lines)
  print(report)
  if _OUT.value:
    from foldedcnn_jax.files import atomic_path

    with atomic_path(_OUT.value) as temporary, open(temporary, "w") as file:
      file.write(report + "\n")


if __name__ == "__main__":
  cli.run(main)
