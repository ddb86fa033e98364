"""n3 roundabout (2 classes, 50x50): configs/n3.py[:quick|:paper].

Measured with the former quick variant (the authors' RMSprop, 5 epochs on data.scale=1), at f=1
(scene video v2) on a shared 2-core CPU in 39 s including dataset generation:

  -> done: best val accuracy 0.8017 at epoch 5 (test accuracy 0.7383)

The authors' recipe, now `:paper` (RMSprop lr 0.001/1.5, 50 epochs, minibatch 32; the best-
validation checkpoint is kept; `python -m experiments.train --config=configs/n3.py:paper`).
Measured at f=1 on the previous embedded scene video (v2: 600 frames and ~6 objects per split; not
yet re-measured on v3, 3,000 frames and ~60 objects per split, a harder and less noisy measure; see
configs/n2.py) in 240 s on a shared 2-core CPU:

  -> done: best val accuracy 0.8717 at epoch 10 (test accuracy 0.8333)

Recipes now: configs/base.py. `:quick` (4 epochs on 5x the training video, data.scale=5, as
n1 and n2) is this task's cell of the cpu accuracy table, results/accuracy/cpu.md. Its f = 1 cell
(seed 0) at three data scales, test % at the best-validation epoch (3,000 test frames):
every other frame of the train chunk (data.scale=0.5, 20 epochs, the table's recipe until
session 10) 91.90 ± 0.98; the train chunk (data.scale=1, 20 epochs) 93.90 ± 0.86; data.scale=5,
12 epochs, 97.63 ± 0.55 (val 97.97). The warm-up, init and slot learning rate below were
chosen at data.scale=0.5.

  python -m experiments.train --config=configs/n3.py:quick [--config.fold=4]
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n3", arg, family="noscope", quick_epochs=4, quick_scale=5.0)
  if arg != "paper":
    # A 20 % warm-up, as v4's (configs/v4.py): with the family's 5 % warm-up the cpu table's
    # f = 1 run (`:quick`, 20 epochs, seed 0) sat on the loss plateau at ln 2 (val 0.593, the
    # majority class) for all 20 epochs; with 20 % it left it at epoch 3 (val 0.873 at epoch 8).
    config.optimizer.warmup_fraction = 0.2
    # flax's initialisation (lecun_normal), not the authors': with the authors' init and the 20 %
    # warm-up the f = 4 cell's slot model (`:quick`, 16 epochs at lr 1e-3, seed 0) sat at ln 2
    # (val 0.593) for all 16 epochs, so the table's n3 f = 4 was 58.37. Same cell, seed and
    # data: flax init left the plateau in the first epochs (slot val 0.9007, f = 4 test 0.9103);
    # the authors' init with the slot phase at lr 3e-4 learned too, but less (slot val 0.8580).
    config.model.init = "flax"
    # The slot model at 1e-3, not the practical recipe's 3e-3 (configs/base.py), chosen on
    # validation: at 3e-3 the cpu table's f = 3 slot model (`:quick`, 20 epochs, seed 0) sat on
    # the ln 2 plateau for 15 epochs (val 0.593) and ended at val 79.33 / test 58.47 %; at 1e-3
    # val 91.40 / test 91.57 %. f = 2 and 4, val / test: 3e-3 93.73 / 93.80 and 93.27 / 93.43 %,
    # 1e-3 93.00 / 94.27 and 92.63 / 92.90 % (±0.9). Runs: runs/accuracy/cpu_n34_slot_lr3e-3.
    config.warm_start.learning_rate = 1e-3
  return config
