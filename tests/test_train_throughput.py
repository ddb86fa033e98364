"""The training-throughput benchmark's configs: the task's recipe, or no augmentation."""

import os
import sys

from foldedcnn_jax.train import throughput

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_recipe_augments_and_noaugment_matches_the_pytorch_loop():
  recipe = throughput.task_config("n2", 4, None, 32)
  assert (recipe.fold, recipe.batch_size) == (4, 32)
  assert recipe.augment.shift > 0 and recipe.augment.flip  # video: shifts and mirroring
  plain = throughput.task_config("n2", 4, None, 32, augment=False)
  assert (plain.augment.shift, plain.augment.flip) == (0, False)
  game = throughput.task_config("v1", 1, 0.05, 32, augment=False)
  assert game.data.scale == 0.05 and game.augment.shift == 0
