"""The accuracy table: `python -m experiments.reproduce_accuracy --budget=cpu`.

Trains every task at f = 1..4 under a budget (configs/accuracy.py: cpu, gpu, paper, tiny) and
writes results/accuracy/<budget>.csv and .md. Each run resumes from its workdir, so running the
same command again goes on where the last sitting stopped. `--config=configs/accuracy.py:cpu`
with `--config.<field>=...` overrides is the long form.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from foldedcnn_jax import cli
from foldedcnn_jax.cli import fail

_CONFIG_FILE = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "configs",
                                             "accuracy.py"))
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "configs/accuracy.py[:cpu|gpu|paper|tiny]", lock_config=True)
flags.DEFINE_string("budget", None, "Shorthand for --config=configs/accuracy.py:<budget>.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    fail(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  sys.path.insert(0, os.path.dirname(os.path.dirname(_CONFIG_FILE)))
  from configs import accuracy as accuracy_configs
  from foldedcnn_jax import accuracy_table, data, train

  config = _CONFIG.value
  try:
    runs = [accuracy_table.Run(task, fold, seed, run_config, recipe,
                               accuracy_table.twin_config(run_config))
            for task, fold, seed, recipe, run_config in accuracy_configs.run_configs(config)]
  except ValueError as error:
    fail(str(error))
  out = os.path.join(config.out_dir, config.budget)

  def test_images(run_config) -> int:
    return data.num_examples(run_config.task, "test", train.make_run_settings(run_config).source)

  command = f"python -m experiments.reproduce_accuracy --budget={config.budget}"
  deadline = config.deadline_minutes * 60 if config.deadline_minutes > 0 else float("inf")
  rows = accuracy_table.build_table(
      runs, out_csv=f"{out}.csv", out_md=f"{out}.md",
      title=f"Accuracy table, budget {config.budget}",
      command=command,
      train=train.train_and_evaluate, test_images=test_images, deadline_seconds=deadline,
      progress=lambda line: print(line, flush=True))
  print(accuracy_table.markdown(rows, f"Accuracy table, budget {config.budget}", command))
  print(f"wrote {out}.csv and {out}.md ({len(rows)} of {len(runs)} runs)")


def _with_budget(argv: list[str]) -> list[str]:
  """`--budget=cpu` → `--config=configs/accuracy.py:cpu`; giving both is an error."""
  budgets = [a for a in argv[1:] if a.startswith("--budget=")]
  if not budgets:
    return argv
  if any(a == "--config" or a.startswith("--config=") for a in argv[1:]):
    fail("give --budget or --config, not both")
  budget = budgets[-1].split("=", 1)[1]
  return [argv[0], f"--config={_CONFIG_FILE}:{budget}", *argv[1:]]


if __name__ == "__main__":
  parse = cli.config_flags_parser(_CONFIG, fields_file="configs/accuracy.py",
                                  default_config=f"{_CONFIG_FILE}:cpu")
  app.run(main, flags_parser=lambda argv: parse(_with_budget(argv)))
