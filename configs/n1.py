"""n1 coral (2 classes, 50x50): configs/n1.py[:quick|:paper].

Measured with the former quick variant (the authors' RMSprop, 5 epochs on data.scale=1), at f=1
(scene video v2) on a shared 2-core CPU in 21 s including dataset generation:

  -> done: best val accuracy 0.9700 at epoch 3 (test accuracy 0.9467)

The authors' recipe, now `:paper` (RMSprop lr 0.001/1.5, 50 epochs, minibatch 32; the best-
validation checkpoint is kept; `python -m experiments.train --config=configs/n1.py:paper`).
Measured at f=1 on the previous embedded scene video (v2: 600 frames and ~6 objects per split; not
yet re-measured on v3, 3,000 frames and ~60 objects per split, a harder and less noisy measure; see
configs/n2.py) in 124 s on a shared 2-core CPU:

  -> done: best val accuracy 0.9733 at epoch 21 (test accuracy 0.9617)

Recipes now: configs/base.py. `:quick` (4 epochs on 5x the training video, data.scale=5: the
train chunk and the four nearest chunks that touch neither val nor test) is this task's cell of
the cpu accuracy table, results/accuracy/cpu.md (12 epochs at f = 1: test 0.9560 at the best
validation epoch, against 0.9320 after 24 epochs on the train chunk alone, the table's recipe
until session 7):

  python -m experiments.train --config=configs/n1.py:quick [--config.fold=4]
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n1", arg, family="noscope", quick_epochs=4, quick_scale=5.0)
  return config
