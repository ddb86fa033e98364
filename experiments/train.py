"""Trains a FoldedCNN: `python -m experiments.train --config=configs/n2.py [--config.fold=4]`.

Every config field can be overridden (`--config.num_epochs=10`); `--config=configs/n2.py:quick`
is the CPU smoke run. A bad config, or a workdir that a live run holds, is one `error:` line on
stderr and exit code 2. Running the same command again resumes from the workdir's latest
checkpoint.
"""

from __future__ import annotations

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from foldedcnn_jax import cli
from foldedcnn_jax.cli import fail
from foldedcnn_jax.errors import UserInputError

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "A configs/<task>.py file, optionally with ':quick'.", lock_config=True)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    fail(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:  # orbax and TFDS log every file at INFO
    logging.set_verbosity(logging.WARNING)
  from foldedcnn_jax import train  # JAX loads only after the flags are known to be good
  from foldedcnn_jax.train.loop import TrainingDivergedError

  try:
    summary = train.train_and_evaluate(_CONFIG.value)
  except UserInputError as error:
    fail(str(error))
  except TrainingDivergedError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
  print(f"done: best val accuracy {summary['best_val_accuracy']:.4f} at epoch "
        f"{summary['best_epoch']} (test accuracy {summary['test_accuracy_at_best']:.4f}); "
        f"workdir {summary['workdir']}", flush=True)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.config_flags_parser(
      _CONFIG, fields_file="configs/base.py",
      missing_hint=", e.g. --config=configs/n2.py (or configs/n2.py:quick)"))
