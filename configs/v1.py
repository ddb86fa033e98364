"""v1 lol-gold1 (11 classes, 22x52): configs/v1.py[:quick|:paper].

The default is the practical recipe (configs/base.py) and `:paper` the authors' (Adam 1e-4, weight
decay 1e-5, 1500 epochs, minibatch 32, the class curriculum at f > 1); neither is run here.
`:quick` is the practical recipe for 12 epochs on data.scale=0.08 (8,800 training images), a CPU
smoke run; the cpu accuracy table's cells (results/accuracy/cpu.md, seed 0) train it 28 epochs, at
f > 1 as the slot model embedded into every slot:

  python -m experiments.train --config=configs/v1.py:quick --config.num_epochs=28
  -> done: best val accuracy 0.9927 at epoch 22 (test accuracy 0.9909)
  python -m experiments.train --config=configs/v1.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=28
  -> done: best val accuracy 0.9845 at epoch 0 (test accuracy 0.9855)
     (--config.fold=2: test accuracy 0.9945; --config.fold=3: 0.9845)

History and the reasons for this config's settings: results/recipes.md § configs/v1.py.
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v1", arg, family="game", quick_epochs=12, quick_scale=0.08)
  return config
