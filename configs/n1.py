"""n1 coral (2 classes, 50x50): configs/n1.py[:quick|:paper].

The cpu accuracy table's cells (results/accuracy/cpu.md, seed 0) train `:quick` 12 epochs, at
f > 1 as the slot model embedded into every slot (the recipes: configs/base.py; why this config's
settings are what they are: results/recipes.md § configs/n1.py):

  python -m experiments.train --config=configs/n1.py:quick --config.num_epochs=12
  -> done: best val accuracy 0.9780 at epoch 7 (test accuracy 0.9560)
  python -m experiments.train --config=configs/n1.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=12
  -> done: best val accuracy 0.9730 at epoch 0 (test accuracy 0.9557)
  --config.fold=2 and 3: test accuracy 0.9573 and 0.9500
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n1", arg, family="noscope", quick_epochs=4, quick_scale=5.0)
  return config
