import pytest

from foldedcnn_jax import tasks


def test_registry_has_every_task_of_the_paper():
  assert set(tasks.TASKS) >= {f"v{i}" for i in range(1, 7)} | {f"n{i}" for i in range(1, 5)} | {
      "g32", "g64"}


@pytest.mark.parametrize("task_id, hw, classes, sizes", [
    ("v1", (22, 52), 11, (10000, 100, 100)),
    ("v2", (19, 25), 22, (1000, 100, 100)),
    ("v3", (17, 40), 15, (800, 200, 200)),
    ("v4", (22, 30), 27, (2000, 100, 100)),
    ("v5", (22, 52), 111, (1000, 100, 100)),
    ("v6", (15, 35), 62, (1000, 100, 100)),
])
def test_game_tasks(task_id, hw, classes, sizes):
  task = tasks.get_task(task_id)
  assert task.input_hw == hw and task.num_classes == classes
  assert (task.split_sizes.train, task.split_sizes.val, task.split_sizes.test) == sizes
  assert task.class_names[-1] == "other"
  assert task.architecture.endswith(f"F{classes}")


def test_class_names_follow_the_templates():
  assert tasks.get_task("v1").class_names[:10] == tuple("0123456789")
  v5 = tasks.get_task("v5").class_names
  assert v5[10] == "00" and v5[109] == "99" and len(set(v5)) == 111
  v6 = tasks.get_task("v6").class_names
  assert v6[0] == "00" and v6[60] == "60"


@pytest.mark.parametrize("task_id, obj, chunks, split", [
    ("n1", "person", 8, (6, 7, 8)), ("n2", "car", 8, (2, 3, 4)),
    ("n3", "car", 8, (2, 3, 4)), ("n4", "bus", 16, (1, 2, 3)),
])
def test_noscope_tasks(task_id, obj, chunks, split):
  task = tasks.get_task(task_id)
  assert task.input_shape == (50, 50, 3) and task.num_classes == 2
  assert (task.noscope.object_name, task.noscope.num_chunks, task.noscope.split_chunks) == (
      obj, chunks, split)


def test_unknown_task_names_the_valid_ids():
  with pytest.raises(tasks.UnknownTaskError, match="unknown task 'v9'.*v1, v2"):
    tasks.get_task("v9")
