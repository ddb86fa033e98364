"""files.atomic_path: the one way the project writes a file that must never be half-written."""

import os
import stat

import pytest

from foldedcnn_jax import files
from foldedcnn_jax.bench import records


@pytest.fixture
def umask_022():
  previous = os.umask(0o022)
  yield
  os.umask(previous)


def _mode(path) -> int:
  return stat.S_IMODE(os.stat(path).st_mode)


def test_a_written_file_appears_whole_with_ordinary_permissions(tmp_path, umask_022):
  path = tmp_path / "new" / "out.json"
  with files.atomic_path(str(path)) as temporary, open(temporary, "w") as file:
    assert os.path.dirname(temporary) == str(path.parent) and not path.exists()
    file.write("{}")
  assert path.read_text() == "{}" and _mode(path) == 0o644
  assert os.listdir(path.parent) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
  path = tmp_path / "out.csv"
  path.write_text("old\n")
  with pytest.raises(RuntimeError, match="disk full"):
    with files.atomic_path(str(path)) as temporary, open(temporary, "w") as file:
      file.write("half")
      raise RuntimeError("disk full")
  assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["out.csv"]


def test_benchmark_csvs_are_readable_by_others(tmp_path, umask_022):
  path = tmp_path / "bench.csv"
  records.write_csv([], str(path))
  assert _mode(path) == 0o644 and path.read_text().startswith("task,")
