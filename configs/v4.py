"""v4 sot-time (27 classes, 22x30): configs/v4.py[:quick].

Quick smoke run (10 epochs on data.scale=0.05, lr 0.0003), measured at f=1 on a shared 2-core CPU
in 56 s including dataset generation (flax init, before the authors' became the default):

  python -m experiments.train --config=configs/v4.py:quick
  -> done: best val accuracy 0.6222 at epoch 10 (test accuracy 0.4889)

Full recipe (the authors'): Adam lr 0.0001, weight decay 1e-05, 1500 epochs, minibatch 32,
class curriculum (I = max(K//10, f), Δ = max(K//10, 1), E = 60) at f > 1;
the best-validation checkpoint is kept. Not run here (far beyond a 2-core CPU session):

  python -m experiments.train --config=configs/v4.py --config.fold=4

Init comparison (configs/base.py), :quick at data.scale=0.1 (val/test 270 images), seed 0:
authors init best val 0.8926 (test 0.8444), flax init 0.8593 (test 0.8222); at f=4 (4 epochs)
both stay at chance (val 0.0481 / 0.0444).
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v4", arg, family="game", quick_epochs=10, quick_scale=0.05, quick_learning_rate=0.0003)
  return config
