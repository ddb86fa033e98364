"""v1 (lol-gold1: gold digits in League of Legends (11 classes, 22x52)).

@@DOC@@
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v1", arg, family="game", quick_epochs=10, quick_scale=0.05, quick_learning_rate=0.001)
  return config
