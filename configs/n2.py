"""n2 night (2 classes, 50x50): configs/n2.py[:quick].

Quick smoke run (5 epochs on data.scale=1), measured at f=1 on a shared 2-core CPU
in 18 s including dataset generation:

  python -m experiments.train --config=configs/n2.py:quick
  -> done: best val accuracy 0.9717 at epoch 5 (test accuracy 0.8617)

Full recipe (the authors'): RMSprop lr 0.001/1.5, 50 epochs, minibatch 32; the
best-validation checkpoint is kept. Measured at f=1 on the embedded synthetic scene video
(default size) in 98 s on a shared 2-core CPU:

  python -m experiments.train --config=configs/n2.py
  -> done: best val accuracy 0.9733 at epoch 7 (test accuracy 0.9150)

Sweep f with --config.fold=4; measured on the same data in 58 s (the FoldedCNN trains on
600 frames = 150 folded inputs here, and generalizes worse than f=1 on this small video):

  python -m experiments.train --config=configs/n2.py --config.fold=4
  -> done: best val accuracy 0.8917 at epoch 46 (test accuracy 0.6683)

Distilling from the f=1 run above (MSE on logits) narrows that gap (one seed each, ~60 s):

  python -m experiments.train --config=configs/n2.py --config.fold=4 \
      --config.distillation.teacher=runs/n2/f1
  -> done: best val accuracy 0.9300 at epoch 44 (test accuracy 0.7933)
  (with --config.distillation.alpha=0.5: best val accuracy 0.9367, test accuracy 0.7833)
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n2", arg, family="noscope", quick_epochs=5, quick_scale=1.0)
  return config
