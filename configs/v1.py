"""v1 lol-gold1 (11 classes, 22x52): configs/v1.py[:quick].

Quick smoke run (10 epochs on data.scale=0.05, lr 0.001), measured at f=1 on a shared 2-core CPU
in 136 s including dataset generation (flax init, before the authors' became the default):

  python -m experiments.train --config=configs/v1.py:quick
  -> done: best val accuracy 0.9273 at epoch 7 (test accuracy 0.9273)

Full recipe (the authors'): Adam lr 0.0001, weight decay 1e-05, 1500 epochs, minibatch 32,
class curriculum (I = max(K//10, f), Δ = max(K//10, 1), E = 60) at f > 1;
the best-validation checkpoint is kept. Not run here (far beyond a 2-core CPU session):

  python -m experiments.train --config=configs/v1.py --config.fold=4

Init comparison (configs/base.py), :quick at data.scale=0.1 (val/test 110 images), seed 0:
authors init best val 0.9727 (test 0.9727), flax init 0.9545 (test 0.9727); at f=4 (4 epochs)
both stay on the folded plateau (val 0.1364 / 0.1273).
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v1", arg, family="game", quick_epochs=10, quick_scale=0.05, quick_learning_rate=0.001)
  return config
