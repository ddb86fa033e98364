"""v5 lol-gold2 (111 classes, 22x52): configs/v5.py[:quick].

Quick smoke run (20 epochs on data.scale=0.05, lr 0.0003), measured at f=1 on a shared 2-core CPU
in 528 s including dataset generation (the 111 classes sit near chance for the
first ~8 epochs; 10 epochs reached only 0.029 val accuracy):

  python -m experiments.train --config=configs/v5.py:quick
  -> done: best val accuracy 0.4811 at epoch 20 (test accuracy 0.4973)

Full recipe (the authors'): Adam lr 0.0001, weight decay 1e-05, 1500 epochs, minibatch 32,
class curriculum (I = max(K//10, f), Δ = max(K//10, 1), E = 60) at f > 1;
the best-validation checkpoint is kept. Not run here (far beyond a 2-core CPU session):

  python -m experiments.train --config=configs/v5.py --config.fold=4
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "v5", arg, family="game", quick_epochs=12, quick_scale=0.1)
  return config
