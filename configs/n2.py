"""n2 night (2 classes, 50x50): configs/n2.py[:quick].

Measured on the embedded scene video v3 (3,000 frames and ~60 cars per split; val and test
3,000 frames each), model seed 0, data seed 0, the authors' init (the default), on a 2-core CPU
shared with three other jobs (wall times are inflated ~3x by the sharing).

Quick smoke run (5 epochs): epochs 1-5 of the 10-epoch run below, so best val 0.9333 at epoch 3
(test 0.9170):

  python -m experiments.train --config=configs/n2.py:quick

Full recipe (the authors'): RMSprop lr 0.001/1.5, 50 epochs, minibatch 32; the
best-validation checkpoint is kept:

  python -m experiments.train --config=configs/n2.py
  -> done: best val accuracy 0.9503 at epoch 20 (test accuracy 0.9530)
  (1,743 s wall, 685 s CPU; train accuracy 1.0000 from epoch ~30, test 0.9540 at epoch 50.
  The issue's target, test >= 0.97 in 10 minutes, is not met on v3: the recipe overfits.)

10 epochs (`--config.num_epochs=10`): best val 0.9483 at epoch 8 (test 0.9447), 356 s wall.
The errors are mostly cars at the edge of the view (25-50 % visible) or far away (< 15 px tall
at 160x120): of the flax-init run's 139 test errors, 104 are missed cars (39 less than half in
view, 47 smaller than 15 px) and 25 of the 35 false alarms are within 3 frames of a labelled car.

Sweep f with --config.fold=4. 10 epochs (`--config.fold=4 --config.num_epochs=10`, 177 s wall):
best val 0.8143 at epoch 8, test 0.7400, where today's evaluation folds 4 consecutive frames
together (stream order); the same checkpoint on val/test permuted with seed 19 before folding
(the authors' protocol): val 0.9103, test 0.9067 (f=1: 0.9447, so a 3.8-point drop).

Full recipe at f=4 (396 s wall, 366 s CPU):

  python -m experiments.train --config=configs/n2.py --config.fold=4
  -> done: best val accuracy 0.8893 at epoch 45 (test accuracy 0.8383)
  (stream order; the same checkpoint, chosen by stream-order val, permuted with seed 19:
  val 0.9477, test 0.9420, 1.1 points below f=1's 0.9530)
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n2", arg, family="noscope", quick_epochs=10, quick_scale=1.0)
  return config
