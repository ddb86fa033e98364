"""v4 sot-time (27 classes, 22x30): configs/v4.py[:quick|:paper].

The cpu accuracy table's cells (results/accuracy/cpu.md, seed 0) train `:quick` 28 epochs, at
f > 1 as the slot model embedded into every slot (the recipes: configs/base.py; why this config's
settings are what they are: results/recipes.md § configs/v4.py):

  python -m experiments.train --config=configs/v4.py:quick --config.num_epochs=28
  -> done: best val accuracy 0.9919 at epoch 22 (test accuracy 0.9922)
  python -m experiments.train --config=configs/v4.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=28
  -> done: best val accuracy 0.9926 at epoch 0 (test accuracy 0.9893)
  --config.fold=2 and 3: test accuracy 0.9926 and 0.9900
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v4", arg, family="game", quick_epochs=12, quick_scale=0.15)
  if arg != "paper":
    # A 20 % warm-up: at the family's 5 % this deepest game model's f = 1 run sat at chance for
    # all 12 :quick epochs (results/recipes.md § configs/v4.py).
    config.optimizer.warmup_fraction = 0.2
  return config
