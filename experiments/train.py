"""Trains a FoldedCNN: `python -m experiments.train --config=configs/n2.py [--config.fold=4]`.

Every config field can be overridden (`--config.num_epochs=10`); `--config=configs/n2.py:quick`
is the CPU smoke run. A bad config is one `error:` line on stderr and exit code 2. Running the
same command again resumes from the workdir's latest checkpoint.
"""

from __future__ import annotations

import re
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from foldedcnn_jax.cli import fail
from foldedcnn_jax.errors import UserInputError

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "A configs/<task>.py file, optionally with ':quick'.", lock_config=True)


def _one_line(error: BaseException) -> str:
  """The flag and the innermost message of a (possibly multi-line, traceback-carrying) error."""
  lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
  if not lines:
    return type(error).__name__
  if len(lines) == 1:
    return lines[0]
  return f"{lines[0].rstrip(':')}: {lines[-1]}"


def _unknown_field(message: str, argv: list[str]) -> str | None:
  """The override naming a field the locked config lacks (ml_collections says "'x'" and
  maybe 'Did you mean "y"'), as one line."""
  match = re.match(r"""[\\"']*(\w+)[\\"']*(?:$|\\n|\n)""", message)
  if not match:
    return None
  suggestion = re.search(r'Did you mean "(\w+)"', message)
  hint = f' (did you mean "{suggestion.group(1)}"?)' if suggestion else ""
  for argument in argv:
    path = argument.split("=", 1)[0]
    if path.startswith("--config.") and match.group(1) in path.split(".")[1:]:
      return f"{path}: no such config field{hint}; configs/base.py lists every field"
  return None


def _parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing, but a bad flag, config file or override is one line and exit code 2."""
  try:
    remaining = flags.FLAGS(argv)
    if _CONFIG.value is None:
      fail("--config is required, e.g. --config=configs/n2.py (or configs/n2.py:quick)")
    _CONFIG.value.task  # noqa: B018 - a config file that failed to load raises here
  except OSError as error:
    fail(f"--config: cannot load the config file: {str(error).strip().splitlines()[-1].strip()}")
  except (flags.Error, KeyError, ValueError, AttributeError, TypeError) as error:
    message = _one_line(error)
    fail(_unknown_field(message, argv) or message)
  return remaining


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
  app.run(main, flags_parser=_parse_flags)
