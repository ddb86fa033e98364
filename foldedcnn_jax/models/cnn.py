"""The one NNX module that builds any planned architecture, folded or not."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from foldedcnn_jax.models import spec as spec_lib

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
# Weight initialisation per layer kind: "flax" keeps nnx's defaults (lecun_normal kernels, zero
# biases); "authors" is the paper's PyTorch code: conv xavier_uniform with ReLU gain sqrt(2)
# (bound gain·sqrt(6/(fan_in+fan_out))), dense normal(0, 0.01), biases 0.
INITS = {
    "flax": {"conv": {}, "dense": {}},
    "authors": {
        "conv": dict(kernel_init=nnx.initializers.variance_scaling(2.0, "fan_avg", "uniform"),
                     bias_init=nnx.initializers.zeros_init()),
        "dense": dict(kernel_init=nnx.initializers.normal(stddev=0.01),
                      bias_init=nnx.initializers.zeros_init()),
    },
}

# The output layer's kernel and bias at zero (`zero_init_head`): every logit is 0 at the start.
ZERO_INIT = dict(kernel_init=nnx.initializers.zeros_init(), bias_init=nnx.initializers.zeros_init())


def _check_init(init: str) -> str:
  if init not in INITS:
    raise ValueError(f"unknown init {init!r}; use one of {', '.join(INITS)}")
  return init


def resolve_dtype(name: str | jnp.dtype | None) -> jnp.dtype | None:
  """Maps "float32" / "bfloat16" / "float16" (or a dtype, or None) to a jnp dtype."""
  if name is None or not isinstance(name, str):
    return name
  try:
    return DTYPES[name]
  except KeyError:
    raise ValueError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}") from None


class FoldedCNN(nnx.Module):
  """A specialized CNN for fold factor `spec.fold` (fold = 1 is exactly the original CNN).

  Input: (batch/f, H, W, f·C) folded images, uint8 (scaled to [0, 1] here) or float.
  Output: (batch/f, f·K) logits; slot j·K:(j+1)·K belongs to image j of each group.
  """

  def __init__(self, spec: spec_lib.ModelSpec, *, rngs: nnx.Rngs,
               param_dtype: str | jnp.dtype = "float32", dtype: str | jnp.dtype | None = None,
               init: str = "authors", zero_init_head: bool = False):
    self.spec = spec
    initializers = INITS[_check_init(init)]
    self.plan = spec.plan()
    self.param_dtype = resolve_dtype(param_dtype)
    self.dtype = resolve_dtype(dtype) or self.param_dtype
    kwargs = dict(dtype=self.dtype, param_dtype=self.param_dtype, rngs=rngs)
    layers = []
    module_index = []  # plan position → index into self.layers (None for a pool)
    for layer in self.plan:
      module_index.append(len(layers) if layer.kind != "pool" else None)
      if layer.kind == "conv":
        layers.append(nnx.Conv(layer.in_channels, layer.out_channels,
                               (layer.kernel, layer.kernel), layer.stride, padding="SAME",
                               feature_group_count=layer.groups, **initializers["conv"],
                               **kwargs))
      elif layer.kind == "dense":
        dense_init = ZERO_INIT if layer.is_output and zero_init_head else initializers["dense"]
        layers.append(nnx.Linear(layer.in_channels, layer.out_channels, **dense_init, **kwargs))
    self.layers = nnx.List(layers)
    self.module_index = tuple(module_index)

  def __call__(self, folded_images: jax.Array) -> jax.Array:
    x = self.prepare_input(folded_images)
    for position in range(len(self.plan)):
      x = self.run_layer(position, x)
    return x

  def prepare_input(self, folded_images: jax.Array) -> jax.Array:
    """uint8 images scaled to [0, 1], or float images, in the compute dtype."""
    x = folded_images
    if jnp.issubdtype(x.dtype, jnp.integer):
      x = x.astype(self.dtype) * (1.0 / 255.0)
    return x.astype(self.dtype)

  def run_layer(self, position: int, x: jax.Array) -> jax.Array:
    """Plan layer `position` on activations `x`: a pool, or conv/dense (+ ReLU unless output)."""
    layer = self.plan[position]
    if layer.kind == "pool":
      # Keyword arguments: jax2onnx's max_pool plugin (the ONNX exporter) accepts only these.
      return nnx.max_pool(x, window_shape=(layer.kernel, layer.kernel),
                          strides=(layer.stride, layer.stride), padding="VALID")
    if layer.kind == "dense" and x.ndim > 2:
      x = x.reshape(x.shape[0], -1)
    x = self.layers[self.module_index[position]](x)
    return x if layer.is_output else nnx.relu(x)


def create_model(spec: spec_lib.ModelSpec, *, seed: int | jax.Array = 0, param_dtype="float32",
                 dtype=None, init: str = "authors", zero_init_head: bool = False) -> FoldedCNN:
  """A FoldedCNN with weights drawn from `seed` (an int or a key) by the `init` scheme (a key of
  `INITS`), its output layer at zero if `zero_init_head` (the other layers' weights are the same
  either way)."""
  return FoldedCNN(spec, rngs=nnx.Rngs(seed), param_dtype=param_dtype, dtype=dtype, init=init,
                   zero_init_head=zero_init_head)


def count_params(model: nnx.Module) -> int:
  """Number of trainable parameters actually held by `model`."""
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
