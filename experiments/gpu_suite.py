"""The GPU measurement in one prepared call: `python -m experiments.gpu_suite --out=DIR`.

`--config=configs/gpu_suite.py:dry_run` runs the same steps on a CPU at tiny sizes (< 2 minutes).
Each step is a fresh process with a time limit; the steps, the files and the commands to run it
on a GPU machine are in configs/gpu_suite.py. The short table is printed last.
"""

from __future__ import annotations

import os

from absl import flags, logging
from ml_collections import config_flags

from foldedcnn_jax import cli

_CONFIG_FILE = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "configs",
                                             "gpu_suite.py"))
_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/gpu_suite.py[:dry_run]",
                                          lock_config=True)
_OUT = flags.DEFINE_string("out", None, "Folder for the results (at most 8 files).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
  if not _OUT.value:
    cli.fail("--out is required: the folder the results go to")
  logging.set_verbosity(logging.WARNING)
  from foldedcnn_jax import plots
  from foldedcnn_jax.bench import suite

  config, out_dir = _CONFIG.value, os.path.abspath(_OUT.value)
  os.makedirs(config.work_dir, exist_ok=True)
  steps = suite.plan_steps(config, out_dir)
  results = suite.run_steps(
      steps, out_dir, deadline_seconds=config.deadline_seconds,
      environment={"FOLDEDCNN_DATA_DIR": os.path.join(config.work_dir, "data"),
                   "PYTHONUNBUFFERED": "1"},
      progress=lambda line: print(line, flush=True))
  rows = suite.merge_bench_csvs(out_dir, results)
  if rows:
    try:
      for path in plots.plot_all(rows, out_dir, dtype=config.dtype):
        print(f"wrote {path}")
      print(suite.accuracy_figure(rows, config, out_dir))
    except Exception as error:  # noqa: BLE001 - figures must not cost the measurements
      print(f"figures failed: {error}")
  print(suite.format_results(results))
  print(suite.summary(rows, config.dtype, config.batch, config.peer_tasks,
                      config.profile_fold))
  train_csv = os.path.join(out_dir, "train_throughput.csv")
  if os.path.isfile(train_csv):
    print(open(train_csv).read().strip())


if __name__ == "__main__":
  import sys

  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  cli.run(main, flags_parser=cli.config_flags_parser(
      _CONFIG, fields_file="configs/gpu_suite.py", default_config=_CONFIG_FILE))
