"""ONNX export: ONNX Runtime computes JAX's logits, the file documents itself, the CLI checks it."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

from foldedcnn_jax import export
from foldedcnn_jax.bench import records, runners, sweep
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import ModelSpec
from foldedcnn_jax.runtime import execution

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from configs import benchmark as benchmark_config  # noqa: E402


@pytest.mark.parametrize("task, fold, input_dtype", [("tiny", 2, "uint8"), ("n2", 4, "uint8"),
                                                     ("v1", 3, "float32")])
def test_onnx_runtime_logits_equal_jax(task, fold, input_dtype):
  spec = ModelSpec.for_task(task, fold=fold)
  graphdef, state = nnx.split(runners.random_model(spec, "float32", seed=1))
  model = export.to_onnx(graphdef, state, spec, task_id=task, class_names=("a", "b"),
                         input_dtype=input_dtype)
  session = export.session(model, providers=("CPUExecutionProvider",))
  (inputs,), (outputs,) = session.get_inputs(), session.get_outputs()
  assert (inputs.name, outputs.name) == (export.INPUT_NAME, export.OUTPUT_NAME)
  assert isinstance(inputs.shape[0], str) and inputs.shape[1:] == list(spec.folded_input_shape)
  for groups in (1, 5):  # a dynamic batch axis
    folded = runners.random_folded_batch(spec, groups * fold, seed=groups)
    if input_dtype == "float32":
      folded = (folded / np.float32(255)).astype(np.float32)
    expected = np.asarray(jax.jit(execution.forward, static_argnums=0)(graphdef, state, folded))
    actual = export.run(session, folded)
    assert actual.shape == (groups, fold * spec.num_classes)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4)
    # The device-resident call (IOBinding; "cuda" on a GPU) computes the same logits.
    (resident,) = export.device_run(session, folded, device="cpu")()
    np.testing.assert_array_equal(resident.numpy(), actual)
  metadata = export.read_metadata(model)
  assert metadata["task"] == task and metadata["class_names"] == '["a", "b"]'
  assert export.spec_from_metadata(metadata) == spec
  assert input_dtype in metadata["input"] and "f*K" in metadata["output"]


def test_bad_export_arguments_are_user_errors():
  spec = ModelSpec.for_task("tiny")
  graphdef, state = nnx.split(runners.random_model(spec, "float32", 0))
  with pytest.raises(UserInputError, match="input dtype 'int8'"):
    export.to_onnx(graphdef, state, spec, input_dtype="int8")
  with pytest.raises(UserInputError, match="not a FoldedCNN export"):
    export.spec_from_metadata({"fold": "2"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  from configs import tiny
  from foldedcnn_jax.train import recipe

  workdir = str(tmp_path_factory.mktemp("run"))
  config = tiny.get_config("quick")
  config.fold, config.progress, config.workdir = 2, False, workdir
  config.data.data_dir = str(tmp_path_factory.mktemp("data"))
  config.epochs = 1
  recipe.train_and_evaluate(config)
  return workdir


def test_export_cli_writes_a_checked_file_the_benchmark_can_time(trained, tmp_path):
  out = tmp_path / "tiny_f2.onnx"
  command = [sys.executable, "-m", "experiments.export", f"--workdir={trained}", f"--out={out}"]
  done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                        env={**os.environ, "FOLDEDCNN_TUNE_CACHE": str(tmp_path / "t.json")})
  assert done.returncode == 0, done.stderr[-2000:]
  assert f"wrote {out} (tiny f=2, uint8 input batch/fx8x8x6" in done.stdout
  difference = float(done.stdout.split("max abs logit difference ")[1].split()[0])
  assert difference <= 1e-4 and "on 64 test images" in done.stdout
  config = benchmark_config.get_config("runlocal")
  config.folds, config.out, config.onnx_files = (2,), str(tmp_path / "b.csv"), (str(out),)
  config.tune = "off"
  plan = sweep.plan_sweep(config)
  assert [(c.framework, c.fold, c.onnx_file) for c in plan.cases[-1:]] == [
      ("onnxruntime", 2, str(out))]
  rows = sweep.run_sweep(plan, progress=lambda line: None)
  assert all(row.ok for row in rows) and rows[-1].source_file == str(out)
  assert records.read_csv(config.out)[-1].framework == "onnxruntime"
  bad = subprocess.run(command[:3] + ["--workdir=/nonexistent", f"--out={out}"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
  assert bad.returncode == 2 and bad.stderr.startswith("error: ")
