import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foldedcnn_jax import costs
from foldedcnn_jax.models import ModelSpec


def test_table_1_of_the_seed():
  original = costs.conv_cost(1024, 11, 26, 32, 32, bytes_per_element=2)
  folded = costs.conv_cost(1024, 11, 26, 32, 32, fold=4, bytes_per_element=2)
  assert round(original.activation_elements / 1e6, 2) == 18.74
  assert round(folded.activation_elements / 1e6, 2) == 9.37
  assert round(original.memory_bytes / 1e6, 2) == 37.51
  assert round(folded.memory_bytes / 1e6, 2) == 18.82
  assert round(original.ops / 1e6, 2) == round(folded.ops / 1e6, 2) == 5398.07
  assert round(original.arithmetic_intensity, 2) == 143.93
  assert round(folded.arithmetic_intensity, 2) == 286.87


def test_n2_system_break_even():
  assert math.floor(costs.system_break_even_ratio(2.5, 0.0021)) == 285


@settings(max_examples=300, deadline=None)
@given(
    fold=st.integers(2, 16),
    nhw=st.floats(1, 1e8),
    c_in=st.integers(1, 512),
    c_out=st.integers(1, 512),
    kernel=st.sampled_from([1, 3, 5, 7]),
    groups=st.sampled_from([1, 2, 4]),
)
def test_threshold_closed_form_agrees_with_direct_memory_comparison(fold, nhw, c_in, c_out, kernel,
                                                                    groups):
  threshold = costs.memory_threshold_nhw(fold, c_in, c_out, kernel, kernel, groups)
  if abs(nhw - threshold) <= 1e-6 * threshold:
    return  # too close to the boundary for floating point to decide
  original = costs.conv_memory_elements(nhw, c_in, c_out, kernel, kernel, 1, groups)
  folded = costs.conv_memory_elements(nhw, c_in, c_out, kernel, kernel, fold, groups)
  assert (nhw > threshold) == (folded < original)


def test_intensity_limit_is_approached_at_large_batch():
  for fold, groups in [(1, 1), (4, 1), (1, 4), (4, 4)]:
    limit = costs.intensity_limit(32, 32, 3, 3, 2, groups=groups, fold=fold)
    layer = costs.conv_cost(10**9, 11, 26, 32, 32, groups=groups, fold=fold)
    assert layer.arithmetic_intensity == pytest.approx(limit, rel=1e-4)
  assert costs.intensity_limit(32, 32, 3, 3, 2, fold=4) == pytest.approx(
      2 * costs.intensity_limit(32, 32, 3, 3, 2))
  assert costs.intensity_limit(32, 32, 3, 3, 2, groups=4) == pytest.approx(
      costs.intensity_limit(32, 32, 3, 3, 2) / 4)


@pytest.mark.parametrize("task_id", ["v1", "v4", "n2", "n3"])
def test_folding_keeps_flops_and_raises_intensity(task_id):
  original = costs.model_cost(ModelSpec.for_task(task_id), 1024)
  folded = costs.model_cost(ModelSpec.for_task(task_id, fold=4), 1024)
  assert folded.folded_inputs == 256
  # Only the first and the last layers grow: FLOPs per image stay within ~1.5x.
  assert 0.8 < folded.flops_per_image / original.flops_per_image < 1.5
  assert folded.flops_per_input == pytest.approx(4 * folded.flops_per_image)
  assert folded.arithmetic_intensity > 1.4 * original.arithmetic_intensity


def test_model_totals_are_sums_of_layers():
  cost = costs.model_cost(ModelSpec.for_task("v1", fold=2), 100, 4)
  assert cost.folded_inputs == 50
  assert cost.ops == sum(layer.ops for layer in cost.layers)
  elements = sum(layer.activation_elements + layer.weight_elements for layer in cost.layers)
  assert cost.memory_bytes == 4 * elements
  assert cost.params == 69_759
  conv1 = cost.layers[0]
  assert conv1.ops == 2 * 50 * 22 * 52 * 9 * 6 * 45
  assert conv1.activation_elements == 50 * 22 * 52 * (6 + 45)


def test_threshold_needs_fold_above_one():
  with pytest.raises(ValueError):
    costs.memory_threshold_nhw(1, 32, 32, 3, 3)
