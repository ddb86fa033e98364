"""n1 coral (2 classes, 50x50): configs/n1.py[:quick|:paper].

The default is the practical recipe (configs/base.py; 16 epochs on 5x the paper's training video)
and `:paper` the authors' (RMSprop 0.001/1.5, 50 epochs, minibatch 32, the train chunk only);
neither is measured on the current scene video. `:quick` is the practical recipe for 4 epochs on
5x the training video: the train chunk and the four nearest chunks that touch neither val nor test
(data.scale=5), a CPU smoke run; the cpu accuracy table's cells (results/accuracy/cpu.md, seed 0)
train it 12 epochs, at f > 1 as the slot model embedded into every slot:

  python -m experiments.train --config=configs/n1.py:quick --config.num_epochs=12
  -> done: best val accuracy 0.9780 at epoch 7 (test accuracy 0.9560)
  python -m experiments.train --config=configs/n1.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=12
  -> done: best val accuracy 0.9730 at epoch 0 (test accuracy 0.9557)
     (--config.fold=2: test accuracy 0.9573; --config.fold=3: 0.9500)

History and the reasons for this config's settings: results/recipes.md § configs/n1.py.
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n1", arg, family="noscope", quick_epochs=4, quick_scale=5.0)
  return config
