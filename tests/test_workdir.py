"""The workdir lock: one live run per workdir, released with its process."""

import os

import pytest

from foldedcnn_jax.train import workdir
from foldedcnn_jax.train.config import ConfigError


def test_a_held_workdir_is_refused_naming_its_holder_until_released(tmp_path):
  with workdir.owned(str(tmp_path)):
    with pytest.raises(ConfigError, match=rf"^workdir {tmp_path} is in use by a run that is "
                       rf"still alive \(pid {os.getpid()}\); wait"):
      with workdir.owned(str(tmp_path)):
        pass
  with workdir.owned(str(tmp_path)):  # released on exit
    pass


def test_a_nested_run_holds_its_own_workdir_inside_its_parents(tmp_path):
  with workdir.owned(str(tmp_path)), workdir.owned(str(tmp_path / "slot_warm_start")):
    assert os.path.exists(tmp_path / "slot_warm_start" / workdir.LOCK_FILE)

