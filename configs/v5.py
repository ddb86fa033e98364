"""v5 (lol-gold2: League of Legends gold (111 classes, 22x52)).

@@DOC@@
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v5", arg, family="game", quick_epochs=10, quick_scale=0.1, quick_learning_rate=0.001)
  return config
