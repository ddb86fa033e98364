import math

import pytest

from foldedcnn_jax import tasks
from foldedcnn_jax.models import spec as spec_lib


def reference_params(architecture: str, hw, channels: int, num_pool_policy: str, fold: int) -> int:
  """An independent count following the authors' rules (PyTorch-style layers with biases)."""
  tokens = architecture.replace("B", "C32 C32 C32").split()
  pools = [i for i, t in enumerate(tokens) if t == "M"]
  height, width, c_in, total, flat = *hw, fold * channels, 0, None
  for i, token in enumerate(tokens):
    last = i == len(tokens) - 1
    if token.startswith("C"):
      c_out = int(int(token[1:]) * math.sqrt(fold))
      total += 9 * c_in * c_out + c_out
      c_in = c_out
    elif token == "M":
      if num_pool_policy == "noscope":
        window, stride = 2, 2
      else:
        window, stride = 3, (2 if i in (pools[0], pools[-1]) else 1)
      height, width = (height - window) // stride + 1, (width - window) // stride + 1
    else:
      flat = flat or height * width * c_in
      out = fold * int(token[1:]) if last else int(int(token[1:]) * math.sqrt(fold))
      total += flat * out + out
      flat = out
  return total


def test_paper_parameter_counts():
  assert spec_lib.ModelSpec.for_task("v1").params == 33_867
  assert spec_lib.ModelSpec.for_task("v1", fold=4).params == 150_268
  assert spec_lib.ModelSpec.for_task("n2").params == 1_283_154


@pytest.mark.parametrize("task_id", [f"v{i}" for i in range(1, 7)] + [f"n{i}" for i in range(1, 5)])
@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_parameter_counts_match_the_authors_rules(task_id, fold):
  task = tasks.get_task(task_id)
  expected = reference_params(task.architecture, task.input_hw, 3, task.pool_policy, fold)
  assert spec_lib.ModelSpec.for_task(task, fold=fold).params == expected


def test_game_pool_policy_first_and_last_are_stride_two():
  layers = spec_lib.parse_architecture("C32 M B M B M C8 M F27", "game")
  pools = [layer for layer in layers if isinstance(layer, spec_lib.Pool)]
  assert [(p.window, p.stride) for p in pools] == [(3, 2), (3, 1), (3, 1), (3, 2)]


def test_noscope_pools_and_explicit_forms():
  layers = spec_lib.parse_architecture("C16 M G32g4k5s2 M3s1 F2", "noscope")
  assert layers == (spec_lib.Conv(16), spec_lib.Pool(2, 2), spec_lib.Conv(32, 5, 2, groups=4),
                    spec_lib.Pool(3, 1), spec_lib.Dense(2))
  assert spec_lib.parse_architecture(spec_lib.format_architecture(layers)) == layers


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("C32 X F2", "malformed architecture token 'X'"), ("C32 M", "must end with"),
    ("C32 F10 C8 F2", "after a dense"), ("C0 F2", "zero size"),
])
def test_malformed_architectures(text, message):
  with pytest.raises(spec_lib.ArchitectureError, match=message):
    spec_lib.parse_architecture(text, "noscope")


def test_bare_pool_needs_a_policy():
  with pytest.raises(spec_lib.ArchitectureError, match="pool policy"):
    spec_lib.parse_architecture("C8 M F2")


def test_too_deep_for_input():
  with pytest.raises(spec_lib.ArchitectureError, match="too deep for a 8x8 input"):
    spec_lib.ModelSpec("C8 M M M M F2", (8, 8, 3), "noscope")


@pytest.mark.parametrize("fold", [0, -1, 1.5, True])
def test_bad_fold(fold):
  with pytest.raises(spec_lib.FoldFactorError, match="fold factor must be an integer >= 1"):
    spec_lib.ModelSpec.for_task("v1", fold=fold)


def test_folded_shapes_and_widths():
  plan = spec_lib.ModelSpec.for_task("v1", fold=3).plan()
  assert plan[0].in_shape == (22, 52, 9)  # f·C input channels
  assert plan[0].out_channels == int(32 * math.sqrt(3)) == 55  # truncation, as the authors
  assert plan[-1].out_shape == (33,)  # f·K logits


def test_width_multiplier_and_rounding():
  spec = spec_lib.ModelSpec.for_task("v1", fold=3, width_rounding=8)
  convs = [layer.out_channels for layer in spec.plan() if layer.kind == "conv"]
  assert convs == [56, 56, 56, 56, 16]  # 55 → 56, int(8·√3) = 13 → 16
  spec = spec_lib.ModelSpec.for_task("v1", fold=4, width_multiplier=1.0)
  assert [layer.out_channels for layer in spec.plan() if layer.kind == "conv"][0] == 32


def test_grouped_conv_widths_split_into_groups():
  for fold in (1, 2, 3, 4):
    plan = spec_lib.ModelSpec.for_task("g32", fold=fold).plan()
    for layer in plan:
      if layer.kind == "conv":
        assert layer.in_channels % layer.groups == 0 and layer.out_channels % layer.groups == 0


def test_compound_scaling_baseline():
  spec = spec_lib.compound_scaled(spec_lib.ModelSpec.for_task("v1"))
  assert spec.input_shape == (26, 60, 3)  # ceil(22·1.15), ceil(52·1.15)
  assert spec.architecture == "C36 C36 M3s2 C36 C36 C36 C36 M3s1 C9 C9 M3s2 F11"
  assert spec.num_classes == 11
  with pytest.raises(spec_lib.FoldFactorError):
    spec_lib.compound_scaled(spec_lib.ModelSpec.for_task("v1", fold=2))


def test_compound_scaling_keeps_each_runs_own_layers():
  # g32's run "C32 G32g4 G32g4 G32g4" must keep its plain first conv (3 input channels).
  spec = spec_lib.compound_scaled(spec_lib.ModelSpec.for_task("g32"))
  assert spec.architecture == "C36 G36g4 G36g4 G36g4 G36g4 M2s2 F2"
  assert spec.params > spec_lib.ModelSpec.for_task("g32").params
