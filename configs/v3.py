"""v3 (sot-coin: Sea of Thieves coins (15 classes, 17x40)).

@@DOC@@
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v3", arg, family="game", quick_epochs=10, quick_scale=0.1, quick_learning_rate=0.001)
  return config
