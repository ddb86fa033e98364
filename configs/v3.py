"""v3 sot-coin (15 classes, 17x40): configs/v3.py[:quick|:paper].

Recipes: configs/base.py. `:quick` (data.scale=0.7: 8,400 training images, 12 epochs) is
this task's cell of the cpu accuracy table, results/accuracy/cpu.md:

  python -m experiments.train --config=configs/v3.py:quick [--config.fold=4]

`:paper` (not run here): Adam lr 0.0001, weight decay 1e-05, 1500 epochs, minibatch 32, class
curriculum (I = max(K//10, f), Δ = max(K//10, 1), E = 60) at f > 1.

Measured with the former quick variant (10 epochs on data.scale=0.1, lr 0.001, the same scale for
val and test, no schedule or augmentation), at f=1 on a shared 2-core CPU in 25 s including dataset
generation:
  -> done: best val accuracy 0.3133 at epoch 10 (test accuracy 0.2933)
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v3", arg, family="game", quick_epochs=12, quick_scale=0.7)
  return config
