"""The training-throughput benchmark's configs: the task's recipe, or no augmentation."""

from experiments.benchmark_train import task_config


def test_the_recipe_augments_and_noaugment_matches_the_pytorch_loop():
  recipe = task_config("n2", 4, None, 32)
  assert (recipe.fold, recipe.batch_size) == (4, 32)
  assert recipe.augment.shift > 0 and recipe.augment.flip  # video: shifts and mirroring
  plain = task_config("n2", 4, None, 32, augment=False)
  assert (plain.augment.shift, plain.augment.flip) == (0, False)
  game = task_config("v1", 1, 0.05, 32, augment=False)
  assert game.data.scale == 0.05 and game.augment.shift == 0
