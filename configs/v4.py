"""v4 (sot-time: Sea of Thieves time (27 classes, 22x30)).

@@DOC@@
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v4", arg, family="game", quick_epochs=10, quick_scale=0.05, quick_learning_rate=0.001)
  return config
