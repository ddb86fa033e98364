"""The class curriculum schedule and how configs resolve it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from configs import base, n2, v1, v6
from foldedcnn_jax.train import (
  ConfigError,
  classes_at_epoch,
  curriculum,
  epoch_all_classes_seen,
  make_run_settings,
)


def test_v6_schedule_reaches_62_classes_at_epoch_2400():
  schedule = lambda epoch: classes_at_epoch(epoch, 62, initial=4, step=3, every=120)
  assert [schedule(e) for e in (0, 119, 120, 239, 240)] == [4, 4, 7, 7, 10]
  assert schedule(2399) == 61  # 4 + 3·19
  assert schedule(2400) == 62  # 4 + 3·20 = 64, capped at K
  assert schedule(2999) == 62
  assert epoch_all_classes_seen(62, 4, 3, 120) == 2400


def test_authors_defaults():
  assert curriculum.default_initial_classes(11, 4) == 4  # max(11 // 10, f)
  assert curriculum.default_initial_classes(111, 4) == 11
  assert curriculum.default_initial_classes(3, 8) == 3  # never more than K
  assert curriculum.default_step_classes(62) == 6
  assert curriculum.default_step_classes(5) == 1


@pytest.mark.parametrize("args", [(-1, 10, 2, 1, 1), (0, 10, 0, 1, 1), (0, 10, 11, 1, 1),
                                  (0, 10, 2, 0, 1), (0, 10, 2, 1, 0)])
def test_bad_schedules_raise(args):
  with pytest.raises(ValueError):
    classes_at_epoch(*args)


@given(num_classes=st.integers(1, 200), data=st.data())
def test_schedule_matches_adding_classes_every_period(num_classes, data):
  initial = data.draw(st.integers(1, num_classes))
  step = data.draw(st.integers(1, 20))
  every = data.draw(st.integers(1, 50))
  seen, previous = initial, initial
  for epoch in range(0, 3 * every * (num_classes // step + 1), max(every // 3, 1)):
    expected = min(num_classes, initial + step * (epoch // every))
    seen = classes_at_epoch(epoch, num_classes, initial, step, every)
    assert seen == expected and previous <= seen <= num_classes
    previous = seen
  first_full = epoch_all_classes_seen(num_classes, initial, step, every)
  assert classes_at_epoch(first_full, num_classes, initial, step, every) == num_classes
  if first_full:
    assert classes_at_epoch(first_full - 1, num_classes, initial, step, every) < num_classes


def test_v6_paper_config_uses_the_authors_f4_recipe():
  config = v6.get_config("paper")
  config.fold = 4
  settings = make_run_settings(config)
  assert settings.curriculum.enabled
  curriculum = settings.curriculum
  assert (curriculum.initial, curriculum.step, curriculum.every) == (4, 3, 120)
  assert settings.num_epochs == 3000
  assert settings.curriculum.classes_at(2400, settings.num_classes) == 62


def test_curriculum_applies_to_game_tasks_with_fold_above_one():
  config = v1.get_config("paper")  # the practical default warm-starts instead (curriculum off)
  assert not make_run_settings(config).curriculum.enabled  # f = 1
  config.fold = 2
  settings = make_run_settings(config)
  curriculum = settings.curriculum
  assert curriculum.enabled and (curriculum.initial, curriculum.step) == (2, 1)
  assert settings.curriculum.every == 60
  noscope = n2.get_config()
  noscope.fold = 4
  assert not make_run_settings(noscope).curriculum.enabled
  noscope.curriculum.mode = "on"
  assert make_run_settings(noscope).curriculum.enabled
  config.curriculum.mode = "off"
  assert make_run_settings(config).curriculum.classes_at(0, 11) == 11


def test_bad_curriculum_fields_fail_with_one_line():
  config = base.get_config()
  config.curriculum.initial_classes = 5  # tiny has 4 classes
  with pytest.raises(ConfigError, match=r"curriculum.initial_classes must be in \[0, 4\]"):
    make_run_settings(config)
  config.curriculum.initial_classes = 0
  config.curriculum.mode = "sometimes"
  with pytest.raises(ConfigError, match="curriculum.mode"):
    make_run_settings(config)
