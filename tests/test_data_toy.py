import numpy as np

from foldedcnn_jax.data import toy
from foldedcnn_jax.tasks import get_task


def test_tiny_images_have_the_task_shape_and_are_seeded():
  task = get_task("tiny")
  for class_index in range(task.num_classes):
    first = toy.render_image(task, class_index, np.random.default_rng(7))
    again = toy.render_image(task, class_index, np.random.default_rng(7))
    assert first.shape == task.input_shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)


def test_tiny_classes_are_told_apart_by_their_colour():
  # A nearest-mean classifier on the brightest channel must separate the classes: that is
  # what makes the task trivially learnable for the fast training tests.
  task, rng = get_task("tiny"), np.random.default_rng(0)
  images = [[toy.render_image(task, c, rng) for _ in range(20)] for c in range(task.num_classes)]
  means = np.array([[image.reshape(-1, 3).max(0) for image in per_class] for per_class in images],
                   np.float32)  # (classes, 20, 3): the pattern colour
  centres = means.mean(axis=1)
  predicted = np.linalg.norm(means[:, :, None] - centres[None, None], axis=-1).argmin(-1)
  assert (predicted == np.arange(task.num_classes)[:, None]).mean() > 0.95
