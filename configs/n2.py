"""n2 night (2 classes, 50x50): configs/n2.py[:quick|:paper]; the README's main job.

The default is the practical recipe (configs/base.py): Adam 1e-3, 5 % warm-up + cosine decay,
random shifts (3 px) and mirroring, 16 epochs on 5x the paper's training video (data.scale=5: the
train chunk 2 plus chunks 1, 6, 7, 8; val and test stay chunks 3 and 4); at f > 1 the slot-wise
warm start (the slot model 16 epochs at 3e-3, embedded into every slot; no folded epochs follow).
Seed 0, on a 2-core CPU:

  python -m experiments.train --config=configs/n2.py
  -> done: best val accuracy 0.9760 at epoch 8 (test accuracy 0.9773)
  python -m experiments.train --config=configs/n2.py --config.fold=4
  -> done: best val accuracy 0.9783 at epoch 0 (test accuracy 0.9807)   (156 s, dataset cached)

`:paper` is the authors' recipe (RMSprop 0.001/1.5, 50 epochs, minibatch 32, the train chunk only;
f = 1: best val 0.9503, test 0.9530). `:quick` is the practical recipe for 4 epochs on the same 5x
training video, a CPU smoke run; the cpu accuracy table's cells (results/accuracy/cpu.md) train it
12 epochs, at f > 1 as the slot model embedded into every slot:

  python -m experiments.train --config=configs/n2.py:quick --config.num_epochs=12
  -> done: best val accuracy 0.9760 at epoch 8 (test accuracy 0.9827)
  python -m experiments.train --config=configs/n2.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=12
  -> done: best val accuracy 0.9803 at epoch 0 (test accuracy 0.9843)
     (--config.fold=2: test accuracy 0.9830; --config.fold=3: 0.9790)

History and the reasons for this config's settings: results/recipes.md § configs/n2.py.
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n2", arg, family="noscope", quick_epochs=4, quick_scale=5.0)
  return config
