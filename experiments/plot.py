r"""Figures from a benchmark CSV: figure7.png, figure8.png and roofline.png.

  python -m experiments.plot results/bench.csv [--out_dir=DIR] [--batch=1024] \
      [--peak_tflops=125 --peak_bandwidth_gbs=900] [--fastest]
  python -m experiments.plot results/cpu/bench_twins.csv --accuracy_csv=results/accuracy/cpu.csv
      also accuracy_speed_<task>.png: test accuracy against images/s per task (original, narrow
      twins, block-diagonal and trained folded models; compound as a line, no accuracy).

Peaks default to those recorded by the benchmark (the known-device table, or measured on a
CPU); the flags override them. Figures go next to the CSV unless --out_dir is given.
"""

from __future__ import annotations

import os

from absl import flags

from foldedcnn_jax import cli

_OUT_DIR = flags.DEFINE_string("out_dir", None, "Folder for the PNGs (default: the CSV's).")
_BATCH = flags.DEFINE_integer("batch", None, "Batch for Figure 7 and the roofline "
                              "(default: 1024 if present, else the largest).")
_FRAMEWORK = flags.DEFINE_string("framework", "jax", "Rows to plot: jax or torch.")
_MICRO_BATCH = flags.DEFINE_integer("micro_batch", 0, "Rows to plot: chunk size (0: whole batch).")
_COMPILER_OPTIONS = flags.DEFINE_string("compiler_options", "",
                                        "Rows to plot: their XLA options ('': XLA's defaults).")
_FASTEST = flags.DEFINE_bool("fastest", False, "Plot each configuration's fastest variant "
                             "(chunking, XLA options) against the fastest original CNN.")
_DTYPE = flags.DEFINE_string("dtype", None, "Rows to plot (default: the most common dtype).")
_ACCURACY_CSV = flags.DEFINE_string("accuracy_csv", None, "An accuracy table (results/accuracy/"
                                    "*.csv): also draw accuracy_speed_<task>.png.")
_PEAK_TFLOPS = flags.DEFINE_float("peak_tflops", None, "Override the peak compute (TFLOP/s).")
_PEAK_BANDWIDTH = flags.DEFINE_float("peak_bandwidth_gbs", None,
                                     "Override the peak memory bandwidth (GB/s).")


def main(argv: list[str]) -> None:
  if len(argv) != 2:
    cli.fail("give exactly one benchmark CSV, e.g. python -m experiments.plot results/bench.csv")
  # matplotlib loads only after the arguments are known
  from foldedcnn_jax import accuracy_plots, plots
  from foldedcnn_jax.bench import records

  path = argv[1]
  rows, out_dir = records.read_csv(path), _OUT_DIR.value or os.path.dirname(os.path.abspath(path))
  paths = plots.plot_all(
      rows, out_dir,
      framework=_FRAMEWORK.value, dtype=_DTYPE.value, batch=_BATCH.value,
      micro_batch=_MICRO_BATCH.value, compiler_options=_COMPILER_OPTIONS.value,
      fastest=_FASTEST.value,
      peak_tflops=_PEAK_TFLOPS.value, peak_bandwidth_gbs=_PEAK_BANDWIDTH.value)
  if _ACCURACY_CSV.value:
    paths += accuracy_plots.accuracy_figures(rows, _ACCURACY_CSV.value, out_dir, dtype=_DTYPE.value)
  for written in paths:
    print(f"wrote {written}")


if __name__ == "__main__":
  cli.run(main)
