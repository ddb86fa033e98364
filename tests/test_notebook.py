"""notebooks/quickstart.ipynb runs top to bottom on a trained workdir (it trains nothing)."""

import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from configs import tiny
from foldedcnn_jax.train import recipe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "quickstart.ipynb")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("run"))
  config = tiny.get_config("quick")
  config.fold, config.progress, config.workdir = 2, False, path
  config.data.data_dir = str(tmp_path_factory.mktemp("data"))
  recipe.train_and_evaluate(config)
  return path


def test_notebook_code_cells_run_on_a_trained_workdir(workdir, monkeypatch, capsys, tmp_path):
  """The notebook's own code, cell by cell, in this process (what nbconvert would run)."""
  monkeypatch.setenv("FOLDEDCNN_WORKDIR", workdir)
  monkeypatch.setenv("MPLBACKEND", "Agg")
  monkeypatch.setenv("FOLDEDCNN_TUNE_CACHE", str(tmp_path / "tune.json"))  # never the user's
  monkeypatch.chdir(os.path.join(ROOT, "notebooks"))
  namespace = {}
  for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
    if cell.cell_type == "code":
      exec(compile(cell.source, NOTEBOOK, "exec"), namespace)  # noqa: S102
  output = capsys.readouterr().out
  assert "task tiny, fold f=2" in output and "test accuracy: " in output
  assert namespace["accuracy"] >= 0.9
  assert namespace["folded_rate"] > 0 and namespace["unfolded_rate"] > 0
  assert "folded / unfolded: " in output


@pytest.mark.skipif(shutil.which("jupyter") is None, reason="jupyter is not installed")
def test_notebook_executes_under_nbconvert(workdir, tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
       "--output-dir", str(tmp_path), "--ExecutePreprocessor.timeout=300", NOTEBOOK],
      cwd=ROOT, capture_output=True, text=True, timeout=600,
      env={**os.environ, "FOLDEDCNN_WORKDIR": workdir, "PYTHONPATH": ROOT,
           "FOLDEDCNN_TUNE_CACHE": str(tmp_path / "tune.json")})
  assert result.returncode == 0, result.stderr[-3000:]
  executed = nbformat.read(str(tmp_path / "quickstart.ipynb"), as_version=4)
  text = "".join(output.get("text", "") for cell in executed.cells if cell.cell_type == "code"
                 for output in cell.outputs)
  assert "test accuracy: " in text and "folded / unfolded: " in text
