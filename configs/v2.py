"""v2 apex-count (22 classes, 19x25): configs/v2.py[:quick|:paper].

The cpu accuracy table's cells (results/accuracy/cpu.md, seed 0) train `:quick` 28 epochs, at
f > 1 as the slot model embedded into every slot (the recipes: configs/base.py; why this config's
settings are what they are: results/recipes.md § configs/v2.py):

  python -m experiments.train --config=configs/v2.py:quick --config.num_epochs=28
  -> done: best val accuracy 0.9859 at epoch 27 (test accuracy 0.9795)
  python -m experiments.train --config=configs/v2.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=28
  -> done: best val accuracy 0.9814 at epoch 0 (test accuracy 0.9823)
  --config.fold=2 and 3: test accuracy 0.9827 and 0.9795
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v2", arg, family="game", quick_epochs=12, quick_scale=0.4)
  return config
