"""Shared entry-point plumbing: user mistakes become one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable

from absl import app

from foldedcnn_jax.errors import UserInputError


def fail(message: str) -> None:
  """Prints one clear error line and exits with status 2 (no traceback)."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def run(main: Callable[[list[str]], None]) -> None:
  """absl `app.run(main)`, reporting any UserInputError as one line and exit code 2."""

  def guarded(argv: list[str]) -> None:
    try:
      main(argv)
    except UserInputError as error:
      fail(str(error))

  app.run(guarded)
