"""v6 (lol-time: League of Legends game clock (62 classes, 15x35)).

@@DOC@@
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v6", arg, family="game", quick_epochs=15, quick_scale=0.1, quick_learning_rate=0.001)
  # The authors' v6 recipe (run at f = 4): start with 4 classes, add 3 every 120 epochs
  # (all 62 by epoch 2400), 3000 epochs. The quick variant adds K // 10 = 6 a epoch instead.
  if arg != "quick":
    config.num_epochs = 3000
    config.curriculum.step_epochs = 120
    config.curriculum.step_classes = 3
  config.curriculum.initial_classes = 4
  return config
