import json
import subprocess
import sys

import pytest

from foldedcnn_jax import summary


def run_summarize(*args):
  return subprocess.run([sys.executable, "-m", "experiments.summarize", *args],
                        capture_output=True, text=True, timeout=120)


def test_json_output():
  result = run_summarize("--task=v1", "--fold=4", "--json")
  assert result.returncode == 0, result.stderr
  record = json.loads(result.stdout)
  assert record["params"] == 150_268
  assert record["flops_per_input"] == pytest.approx(4 * record["flops_per_image"])
  assert [layer["name"] for layer in record["layers"]][:2] == ["conv1", "pool1"]
  assert record["layers"][0]["out_shape"] == [22, 52, 64]


def test_table_output():
  result = run_summarize("--task=n2")
  assert result.returncode == 0, result.stderr
  assert "1,283,154" in result.stdout and "arith. int." in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--task=v9"], "unknown task 'v9'"),
    (["--task=v1", "--fold=0"], "fold factor must be an integer >= 1"),
    (["--task=v1", "--architecture=C32 Q F2"], "malformed architecture token 'Q'"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
  result = run_summarize(*args)
  assert result.returncode == 2
  assert result.stderr.strip().count("\n") == 0 and message in result.stderr
  assert "Traceback" not in result.stderr


def test_table_totals_row():
  table = summary.format_table(summary.task_cost("v1", fold=4))
  totals = next(line for line in table.splitlines() if line.startswith("total"))
  assert totals.split()[1:3] == ["150,268", "74,548,608"]  # params, FLOPs per folded input
