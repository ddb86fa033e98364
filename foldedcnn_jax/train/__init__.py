"""Training: config checks, class curriculum, jitted sharded steps, checkpoints, the epoch loop,
the warm-start recipe.

`train_and_evaluate(config)` is the one entry point (experiments/train.py is a thin CLI on it).
Heavy modules (orbax, the data pipeline) load lazily inside the loop.
"""

from foldedcnn_jax.train.config import ConfigError, RunSettings, make_run_settings
from foldedcnn_jax.train.curriculum import classes_at_epoch, epoch_all_classes_seen

__all__ = [
    "ConfigError", "RunSettings", "classes_at_epoch", "epoch_all_classes_seen", "make_run_settings",
    "train_and_evaluate",
]


def train_and_evaluate(run, workdir: str | None = None):
  """Trains `run` (a config, or a recipe.SlotModelRun) into `workdir` (default: the config's),
  resuming from its latest checkpoint."""
  from foldedcnn_jax.train import recipe

  return recipe.train_and_evaluate(run, workdir)
