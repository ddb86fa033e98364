"""v2 (apex-count: Apex Legends squad count (22 classes, 19x25)).

@@DOC@@
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v2", arg, family="game", quick_epochs=10, quick_scale=0.1, quick_learning_rate=0.001)
  return config
