"""The one base class for mistakes in user input, which CLIs report as one line (exit code 2)."""


class UserInputError(ValueError):
  """Bad input from a user: unknown task, f < 1, malformed architecture, missing file, …"""
