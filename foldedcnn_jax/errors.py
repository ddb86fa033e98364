"""The one base class for mistakes in user input, which CLIs report as one line (exit code 2)."""


class UserInputError(ValueError):
  """Bad input from a user: unknown task, f < 1, malformed architecture, missing file, …"""


class FoldFactorError(UserInputError):
  """A fold factor that is not an integer >= 1."""


def check_fold_factor(fold) -> None:
  """Raises FoldFactorError unless `fold` is an integer >= 1 (bools are not fold factors)."""
  if isinstance(fold, bool) or not isinstance(fold, int) or fold < 1:
    raise FoldFactorError(f"fold factor must be an integer >= 1, got {fold!r}")
