"""v1 lol-gold1 (11 classes, 22x52): configs/v1.py[:quick|:paper].

The cpu accuracy table's cells (results/accuracy/cpu.md, seed 0) train `:quick` 28 epochs, at
f > 1 as the slot model embedded into every slot (the recipes: configs/base.py; why this config's
settings are what they are: results/recipes.md § configs/v1.py):

  python -m experiments.train --config=configs/v1.py:quick --config.num_epochs=28
  -> done: best val accuracy 0.9927 at epoch 22 (test accuracy 0.9909)
  python -m experiments.train --config=configs/v1.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=28
  -> done: best val accuracy 0.9845 at epoch 0 (test accuracy 0.9855)
  --config.fold=2 and 3: test accuracy 0.9945 and 0.9845
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v1", arg, family="game", quick_epochs=12, quick_scale=0.08)
  return config
