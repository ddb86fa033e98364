"""Shared entry-point plumbing: user mistakes become one line on stderr and exit code 2."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from absl import app, flags

from foldedcnn_jax.errors import UserInputError


def fail(message: str) -> None:
  """Prints one clear error line and exits with status 2 (no traceback)."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def run(main: Callable[[list[str]], None], **app_run_kwargs) -> None:
  """absl `app.run(main)`, reporting any UserInputError as one line and exit code 2."""

  def guarded(argv: list[str]) -> None:
    try:
      main(argv)
    except UserInputError as error:
      fail(str(error))

  app.run(guarded, **app_run_kwargs)


def _one_line(error: BaseException) -> str:
  """The first and the innermost line of a (possibly multi-line, traceback-carrying) error."""
  lines = [re.sub(r"^\w+Error: ", "", line.strip())
           for line in str(error).strip().splitlines() if line.strip()]
  if not lines:
    return type(error).__name__
  if len(lines) == 1:
    return lines[0]
  return f"{lines[0].rstrip(':')}: {lines[-1]}"


def _unknown_field(message: str, argv: list[str], fields_file: str) -> str | None:
  """The override naming a field a locked config lacks, as one line with ml_collections' hint."""
  match = re.match(r"""[\\"']*(\w+)[\\"']*(?:$|\\n|\n)""", message)
  if not match:
    return None
  suggestion = re.search(r'Did you mean "(\w+)"', message)
  hint = f' (did you mean "{suggestion.group(1)}"?)' if suggestion else ""
  for argument in argv:
    path = argument.split("=", 1)[0]
    if path.startswith("--config.") and match.group(1) in path.split(".")[1:]:
      return f"{path}: no such config field{hint}; {fields_file} lists every field"
  return None


def config_flags_parser(config_flag: flags.FlagHolder, *, fields_file: str,
                        default_config: str | None = None,
                        missing_hint: str = "") -> Callable[[list[str]], list[str]]:
  """An absl `flags_parser` for a `config_flags.DEFINE_config_file` CLI.

  A bad flag, an unloadable config file or a bad `--config.x=...` override becomes one
  `error:` line and exit code 2; `default_config` is used when no --config is given.
  """

  def parse(argv: list[str]) -> list[str]:
    if default_config and not any(re.match(r"--config(=|$)", a) for a in argv[1:]):
      argv = [argv[0], f"--config={default_config}", *argv[1:]]
    try:
      remaining = flags.FLAGS(argv)
      if config_flag.value is None:
        fail(f"--config is required{missing_hint}")
      config_flag.value.keys()  # a config file that failed to load raises here
    except OSError as error:
      reason = re.search(r"\[Errno \d+\] (.*)", str(error))
      fail(f"--config: cannot load the config file: "
           f"{reason.group(1) if reason else _one_line(error)}")
    except (flags.Error, KeyError, ValueError, AttributeError, TypeError) as error:
      message = _one_line(error)
      fail(_unknown_field(message, argv, fields_file) or message)
    return remaining

  return parse
