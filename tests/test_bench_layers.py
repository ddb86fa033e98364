import math
import os
import subprocess
import sys

from foldedcnn_jax import costs
from foldedcnn_jax.bench import layers
from foldedcnn_jax.models import ModelSpec

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_time_layers_follows_the_plan_and_the_cost_model():
  spec = ModelSpec.for_task("v1", fold=2)
  timings = layers.time_layers(spec, 6, trials=1, warmup_calls=0, min_trial_seconds=0.0)
  cost = costs.model_cost(spec, 6, 4)
  assert [(t.name, t.kind, t.flops) for t in timings] == [
      (layer.name, layer.kind, layer.ops) for layer in cost.layers]
  assert timings[0].input_shape == (3, *spec.folded_input_shape)  # ceil(6 / 2) folded inputs
  for before, after in zip(timings[:-1], timings[1:], strict=True):
    assert before.output_shape == after.input_shape
  for timing, layer in zip(timings, cost.layers, strict=True):
    assert timing.output_shape[1:] == layer.out_shape and timing.seconds > 0
    assert math.isnan(timing.flops_per_second) == (timing.kind == "pool")
  assert timings[-1].output_shape == (3, spec.fold * spec.num_classes)  # f·K logits
  table = layers.format_table(timings)
  assert table.splitlines()[1].startswith("conv1") and table.splitlines()[-1].startswith("total")


def test_profile_layers_cli(tmp_path):
  command = [sys.executable, "-m", "experiments.profile_layers", "--task=tiny", "--fold=2",
             "--batch=8", "--trials=1"]
  done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
  assert done.returncode == 0, done.stderr
  lines = done.stdout.splitlines()
  assert lines[0].startswith("tiny f=2 batch=8 float32")
  assert [line.split()[0] for line in lines[2:-1]] == ["conv1", "pool1", "dense1", "total"]
  assert lines[-1].startswith("whole model as one program:")
  bad = subprocess.run(command + ["--task=v9"], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
  assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
      "error: unknown task 'v9'; known tasks: v1, v2, v3, v4, v5, v6, n1, n2, n3, n4, g32, g64, "
      "tiny"]
