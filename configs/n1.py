"""n1 (coral: people in the coral-reef video (binary, 50x50)).

@@DOC@@
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n1", arg, family="noscope", quick_epochs=5, quick_scale=1.0)
  return config
