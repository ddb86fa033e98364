import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from foldedcnn_jax import tasks
from foldedcnn_jax.models import ModelSpec, count_params, create_model
from foldedcnn_jax.runtime import folding


@pytest.mark.parametrize("task_id", list(tasks.TASKS))
@pytest.mark.parametrize("fold", [1, 2, 4])
def test_model_holds_exactly_the_planned_parameters(task_id, fold):
  spec = ModelSpec.for_task(task_id, fold=fold)
  model = nnx.eval_shape(lambda: create_model(spec))  # abstract init: shapes only, no FLOPs
  assert count_params(model) == spec.params


@pytest.mark.parametrize("task_id, fold", [("v1", 1), ("v4", 3), ("n3", 2), ("g32", 2)])
def test_forward_shapes(task_id, fold):
  spec = ModelSpec.for_task(task_id, fold=fold)
  images = np.random.default_rng(0).integers(0, 256, (2 * fold, *spec.input_shape), np.uint8)
  logits = create_model(spec)(folding.fold(images, fold))
  assert logits.shape == (2, fold * spec.num_classes)
  assert folding.unfold(logits, fold).shape == (2 * fold, spec.num_classes)


def test_uint8_input_is_scaled_to_unit_range():
  spec = ModelSpec.for_task("tiny")
  model = create_model(spec)
  images = np.random.default_rng(0).integers(0, 256, (4, *spec.input_shape), np.uint8)
  np.testing.assert_allclose(model(images), model(images.astype(np.float32) / 255), atol=1e-5)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_compute(dtype):
  spec = ModelSpec.for_task("tiny", fold=2)
  model = create_model(spec, param_dtype=dtype)
  logits = model(jnp.zeros((1, *spec.folded_input_shape), jnp.uint8))
  assert logits.dtype == jnp.dtype(dtype)
  assert all(x.dtype == jnp.dtype(dtype) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_unknown_dtype():
  with pytest.raises(ValueError, match="unknown dtype 'float8'"):
    create_model(ModelSpec.for_task("tiny"), param_dtype="float8")


def test_same_seed_same_weights():
  spec = ModelSpec.for_task("tiny")
  images = np.ones((3, *spec.input_shape), np.uint8)
  same = create_model(spec, seed=3)(images)
  np.testing.assert_array_equal(same, create_model(spec, seed=3)(images))
  assert not np.allclose(create_model(spec, seed=3)(images), create_model(spec, seed=4)(images))


@pytest.mark.parametrize("task_id, fold", [("v1", 2), ("n3", 1)])
def test_running_the_plan_layer_by_layer_is_the_model(task_id, fold):
  # run_layer (models/cnn.py) is what experiments.profile_layers times, one layer at a time.
  spec = ModelSpec.for_task(task_id, fold=fold)
  model = create_model(spec, seed=1)
  images = jnp.asarray(np.random.default_rng(2).integers(0, 256, (2 * fold, *spec.input_shape)),
                       dtype=jnp.uint8)
  batch = folding.fold(images, fold)
  x = model.prepare_input(batch)
  assert x.dtype == jnp.float32 and float(x.max()) <= 1.0
  for position in range(len(model.plan)):
    x = model.run_layer(position, x)
  np.testing.assert_array_equal(np.asarray(x), np.asarray(model(batch)))


def _layers(model, kind):
  return [layer for layer in model.layers if isinstance(layer, kind)]


def test_authors_init_has_the_documented_statistics():
  """Conv: xavier_uniform with ReLU gain (bound √2·√(6/(fan_in+fan_out))); dense N(0, 0.01)."""
  model = create_model(ModelSpec.for_task("v1", fold=4), init="authors")
  for conv in _layers(model, nnx.Conv):
    kernel = np.asarray(conv.kernel[...])
    height, width, fan_in_channels, out_channels = kernel.shape
    receptive = height * width
    bound = np.sqrt(2) * np.sqrt(6 / (receptive * fan_in_channels + receptive * out_channels))
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.95 * bound
    assert kernel.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)  # uniform(-b, b)
    assert not np.asarray(conv.bias[...]).any()
  (dense,) = _layers(model, nnx.Linear)
  weights = np.asarray(dense.kernel[...])
  assert weights.std() == pytest.approx(0.01, rel=0.05) and abs(weights.mean()) < 0.001
  assert not np.asarray(dense.bias[...]).any()


def test_flax_init_keeps_nnx_defaults():
  spec = ModelSpec.for_task("v1", fold=4)
  (dense,) = _layers(create_model(spec, init="flax"), nnx.Linear)
  fan_in = dense.kernel.shape[0]
  assert np.asarray(dense.kernel[...]).std() == pytest.approx(1 / np.sqrt(fan_in), rel=0.1)
  default = create_model(spec)  # the authors' init is the default (see configs/base.py)
  assert np.array_equal(default.layers[0].kernel[...], create_model(spec, init="authors")
                        .layers[0].kernel[...])


@pytest.mark.parametrize("task", ["v6", "n3"])
def test_zero_init_head_zeroes_only_the_output_layer(task):
  """Logits start at 0 (every class 1/K); every other layer keeps the init scheme's draw."""
  spec = ModelSpec.for_task(task, fold=3)
  default, zeroed = create_model(spec), create_model(spec, zero_init_head=True)
  *hidden, head = range(len(default.layers))
  for index in hidden:
    assert np.array_equal(default.layers[index].kernel[...], zeroed.layers[index].kernel[...])
    assert np.asarray(zeroed.layers[index].kernel[...]).any()
  assert np.asarray(default.layers[head].kernel[...]).any()
  assert not np.asarray(zeroed.layers[head].kernel[...]).any()
  assert not np.asarray(zeroed.layers[head].bias[...]).any()
  images = np.random.default_rng(0).integers(0, 256, (2, *spec.folded_input_shape), np.uint8)
  assert not np.asarray(zeroed(images)).any() and np.asarray(default(images)).any()


def test_init_choice_comes_from_the_config():
  import inspect

  from configs import base
  from foldedcnn_jax.models import cnn

  config = base.get_config()
  assert config.model.init in cnn.INITS
  # Call sites that build a model without a config (predict, bench) get the config's default.
  assert inspect.signature(create_model).parameters["init"].default == config.model.init
  spec = ModelSpec.for_task("v1")
  config.model.init = "authors"
  (dense,) = _layers(create_model(spec, init=config.model.init), nnx.Linear)
  assert np.asarray(dense.kernel[...]).std() == pytest.approx(0.01, rel=0.1)
  with pytest.raises(ValueError, match="unknown init 'xavier'; use one of flax, authors"):
    create_model(spec, init="xavier")
