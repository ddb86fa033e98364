"""tiny: the 8x8, 4-class test task (stripes and colours); trains in seconds.

  python -m experiments.train --config=configs/tiny.py --config.fold=2
"""

from configs import base


def get_config(arg: str | None = None):
  return base.task_config("tiny", arg, family="toy", quick_epochs=5, quick_scale=1.0)
