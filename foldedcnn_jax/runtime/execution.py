"""How a model's forward pass is run: one home for merging a split model and running it.

An execution `Variant` is everything about *how* the same function is compiled and run (XLA
options, the batch in chunks) that leaves the logits unchanged; the autotuner (`runtime/tune.py`)
picks one per device and model, the benchmark times them, and the predictor runs the chosen one.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import jax
import jax.numpy as jnp
from flax import nnx

from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.runtime import slot_groups
from foldedcnn_jax.runtime.folding import pad_to

CompilerOptions = tuple[tuple[str, object], ...]
# XLA:CPU with its YNNPACK fusions off: convolutions go to Eigen. Faster for many of these models
# in inference (the autotuner tries it) and in every measured training step (train/config.py).
YNNPACK_OFF: CompilerOptions = (("xla_cpu_experimental_ynn_fusion_type", ""),)


@dataclasses.dataclass(frozen=True)
class Variant:
  """One way to compile and run a forward pass; the default is XLA's defaults, one call."""

  compiler_options: CompilerOptions = ()
  micro_batch: int = 0  # images per chunk of the batch (0: the whole batch at once)
  formulation: str = ""  # one of FORMULATIONS: how slow layers are written ("": the model's)

  @property
  def options_text(self) -> str:
    """The compiler options as "key=value,…" ("" for XLA's defaults)."""
    return ",".join(f"{key}={value}" for key, value in self.compiler_options)

  def label(self) -> str:
    parts = [f"chunks={self.micro_batch}"] if self.micro_batch else []
    if self.compiler_options:
      parts.append(f"xla[{self.options_text}]")
    if self.formulation:
      parts.append(self.formulation)
    return " ".join(parts) or "xla defaults"

  def to_json(self) -> dict:
    return {"compiler_options": [list(item) for item in self.compiler_options],
            "micro_batch": self.micro_batch, "formulation": self.formulation}

  @classmethod
  def from_json(cls, data: dict) -> Variant:
    formulation = data.get("formulation", "")
    if formulation not in FORMULATIONS:
      raise ValueError(f"unknown formulation {formulation!r}")
    return cls(tuple((str(key), value) for key, value in data["compiler_options"]),
               int(data["micro_batch"]), formulation)


# Rewritings of slow layers that compute the same logits. "sliced_pool": a max pool as
# elementwise maxima of strided slices, rows then columns (k + k maxima instead of a k×k
# reduce_window, and a plain loop fusion XLA:CPU emits well). "padded_channels": every hidden
# layer's channels zero-padded to a multiple of CHANNEL_MULTIPLE (a widened 45-channel layer
# becomes 48, which GPU tensor cores take whole; the zero channels stay zero through ReLU and
# pooling and meet zero weights in the next layer); "padded_input" also pads the input's f·C
# channels. Both pad the weights inside the program, so the caller's state is unchanged.
# "dense_groups": grouped convolutions as ordinary ones with block-diagonal kernels (the
# zero blocks cost G× their FLOPs), every channel then padded as "padded_input" — for the group
# models at f = 2 and 3, whose 12-28 channels per group ran at 0.17-0.47× f = 1 on the H100.
# "slot_groups": a block-diagonal folded model (zero weights between slots) as f grouped
# convolutions and batched dense layers, 1/f of the multiply-adds (runtime/slot_groups.py);
# compiled only for a model whose weights pass `slot_groups.is_block_diagonal`; "slot_split"
# the same with each slot's activations as a tensor of their own through ordinary convs
# (XLA:CPU runs grouped convolutions 2-9x slower than the folded model). With "_sliced_pool"
# their max pools are sliced as in "sliced_pool".
SLOT_GROUPS = ("slot_groups", "slot_groups_sliced_pool", "slot_split", "slot_split_sliced_pool")
FORMULATIONS = ("", "sliced_pool", "padded_channels", "padded_input", "dense_groups",
                *SLOT_GROUPS)
PADDED_FORMULATIONS = ("padded_channels", "padded_input", "dense_groups")
CHANNEL_MULTIPLE = 8


def parse_compiler_options(text: str) -> CompilerOptions:
  """"xla_cpu_use_xnnpack=true,k=3" → (("xla_cpu_use_xnnpack", True), ("k", 3)).

  A comma not followed by `key=` stays in the value (repeated enum options: "t=A,B");
  "" and "default" are XLA's defaults.
  """
  if str(text).strip() == "default":
    return ()
  options = []
  for item in [part.strip() for part in re.split(r",(?=\s*\w+=)", str(text)) if part.strip()]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
      raise UserInputError(f"compiler option {item!r} is not key=value")
    options.append((key.strip(), _parse_value(value.strip())))
  return tuple(options)


def _parse_value(value: str) -> object:
  if value.lower() in ("true", "false"):
    return value.lower() == "true"
  for kind in (int, float):
    try:
      return kind(value)
    except ValueError:
      pass
  return value


def forward(graphdef: nnx.GraphDef, state: nnx.State, folded_images: jax.Array,
            formulation: str = "") -> jax.Array:
  """Pure inference: rebuild the model from its split state and run it on folded images."""
  return _run(nnx.merge(graphdef, state), folded_images, formulation)


def _run(model, folded_images: jax.Array, formulation: str) -> jax.Array:
  if not formulation:
    return model(folded_images)
  x = model.prepare_input(folded_images)
  if formulation in SLOT_GROUPS:
    pool = sliced_max_pool if formulation.endswith("_sliced_pool") else _max_pool
    return slot_groups.run(model, x, pool, split=formulation.startswith("slot_split"))
  if formulation in ("padded_input", "dense_groups"):
    x = pad_to(x, _round_up(x.shape[-1]), axis=-1)
  for position, layer in enumerate(model.plan):
    if layer.kind == "pool" and formulation == "sliced_pool":
      x = sliced_max_pool(x, layer.kernel, layer.stride)
    elif layer.kind != "pool" and formulation in PADDED_FORMULATIONS:
      x = _padded_layer(model, position, x)
    else:
      x = model.run_layer(position, x)
  return x


def pads_channels(spec) -> bool:
  """Whether the padded formulations change anything for `spec` (ungrouped, some width off)."""
  plan = spec.plan()
  hidden = [layer.out_channels for layer in plan if layer.kind != "pool" and not layer.is_output]
  return _ungrouped(plan) and any(width % CHANNEL_MULTIPLE for width in hidden)


def pads_input(spec) -> bool:
  """Whether "padded_input" differs from "padded_channels" for `spec` (f·C off the multiple)."""
  plan = spec.plan()
  return (_ungrouped(plan) and plan[0].kind == "conv"
          and plan[0].in_channels % CHANNEL_MULTIPLE != 0)


def _ungrouped(plan) -> bool:
  """Padding keeps channels in place only without grouped convolutions."""
  return all(layer.groups == 1 for layer in plan if layer.kind == "conv")


def densifies_groups(spec) -> bool:
  """Whether "dense_groups" changes anything for `spec` (it has grouped convolutions)."""
  return not _ungrouped(spec.plan())


def _block_diagonal(kernel: jax.Array, groups: int) -> jax.Array:
  """A grouped conv's (kh, kw, C_in/G, C_out) kernel as the (kh, kw, C_in, C_out) kernel of
  the same ungrouped conv: group g's block on the diagonal, zeros elsewhere."""
  kh, kw, group_in, out = kernel.shape
  blocks = kernel.reshape(kh, kw, group_in, groups, out // groups)
  dense = jnp.einsum("hwigo,Gg->hwGigo", blocks, jnp.eye(groups, dtype=kernel.dtype))
  return dense.reshape(kh, kw, groups * group_in, out)


def _round_up(width: int) -> int:
  return -(-width // CHANNEL_MULTIPLE) * CHANNEL_MULTIPLE


def _padded_layer(model, position: int, x: jax.Array) -> jax.Array:
  """Conv or dense `position` on channel-padded `x`, its own outputs padded unless the last."""
  layer = model.plan[position]
  module = model.layers[model.module_index[position]]
  kernel, bias = module.kernel[...], module.bias[...]
  width = layer.out_channels if layer.is_output else _round_up(layer.out_channels)
  bias = pad_to(bias, width).astype(model.dtype)
  if layer.kind == "conv":
    if layer.groups > 1:
      kernel = _block_diagonal(kernel, layer.groups)
    kernel = pad_to(pad_to(kernel, x.shape[-1], axis=2), width, axis=3).astype(model.dtype)
    x = jax.lax.conv_general_dilated(
        x.astype(model.dtype), kernel, (layer.stride, layer.stride), "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
  else:
    if x.ndim > 2:  # flatten (H, W, C): the kernel's rows are (H, W, C) in the same order
      kernel = kernel.reshape(*x.shape[1:-1], -1, kernel.shape[-1])
      kernel = pad_to(kernel, x.shape[-1], axis=kernel.ndim - 2).reshape(-1, kernel.shape[-1])
      x = x.reshape(x.shape[0], -1)
    kernel = pad_to(pad_to(kernel, x.shape[-1]), width, axis=1).astype(model.dtype)
    x = x.astype(model.dtype) @ kernel + bias
  return x if layer.is_output else jax.nn.relu(x)


def sliced_max_pool(x: jax.Array, kernel: int, stride: int) -> jax.Array:
  """A VALID k×k max pool of NHWC `x` as maxima of strided slices, along H then along W."""
  for axis in (1, 2):
    count = (x.shape[axis] - kernel) // stride + 1
    taps = [jax.lax.slice_in_dim(x, tap, tap + stride * (count - 1) + 1, stride, axis)
            for tap in range(kernel)]
    x = functools.reduce(jnp.maximum, taps)
  return x


def _max_pool(x: jax.Array, kernel: int, stride: int) -> jax.Array:
  return nnx.max_pool(x, window_shape=(kernel, kernel), strides=(stride, stride),
                      padding="VALID")


def forward_layer(graphdef: nnx.GraphDef, state: nnx.State, x: jax.Array, *,
                  position: int) -> jax.Array:
  """One layer of the plan on activations `x` (the per-layer profile)."""
  return nnx.merge(graphdef, state).run_layer(position, x)


def forward_in_chunks(graphdef: nnx.GraphDef, state: nnx.State, folded_images: jax.Array,
                      chunk_inputs: int, formulation: str = "") -> jax.Array:
  """`forward` over consecutive chunks of `chunk_inputs` folded inputs (a `lax.map` loop).

  On a CPU, a chunk's activations stay in cache between layers where a whole batch's do not.
  A ragged last chunk is zero-padded; the padding's logits are dropped.
  """
  count = folded_images.shape[0]
  chunks = -(-count // chunk_inputs)
  size = -(-count // chunks)  # balanced chunks: at most chunks - 1 padded inputs
  folded_images = pad_to(folded_images, chunks * size)
  model = nnx.merge(graphdef, state)
  logits = jax.lax.map(lambda chunk: _run(model, chunk, formulation),
                       folded_images.reshape(chunks, size, *folded_images.shape[1:]))
  return logits.reshape(chunks * size, -1)[:count]


def forward_function(graphdef: nnx.GraphDef, variant: Variant, fold: int, batch_inputs: int):
  """The pure `(state, folded_images) -> logits` that `variant` runs for this batch size."""
  chunk_inputs = -(-variant.micro_batch // fold)
  if 0 < chunk_inputs < batch_inputs:
    return functools.partial(forward_in_chunks, graphdef, chunk_inputs=chunk_inputs,
                             formulation=variant.formulation)
  return functools.partial(forward, graphdef, formulation=variant.formulation)


def compile_forward(graphdef: nnx.GraphDef, state: nnx.State,
                    folded_images: jax.Array | jax.ShapeDtypeStruct, fold: int,
                    variant: Variant = Variant(), prepare=None):
  """AOT-compiles the forward pass of `variant` for this input shape and dtype; `prepare`
  (inputs → folded images) runs first, in the same program (e.g. the video filter's resize).

  Returns the compiled program: call `compiled(state, folded_images)`. A "slot_groups"
  variant of a model whose weights are not block-diagonal is refused (ValueError).
  """
  if variant.formulation in SLOT_GROUPS and not slot_groups.is_block_diagonal(
      nnx.merge(graphdef, state)):
    raise ValueError(f"{variant.label()} needs zero weights between slots (an embedded slot "
                     "model); this model has some")
  function = forward_function(graphdef, variant, fold, folded_images.shape[0])
  if prepare is not None:
    model_forward = function
    function = lambda state, inputs: model_forward(state, prepare(inputs))  # noqa: E731
  return jax.jit(function).lower(state, folded_images).compile(
      dict(variant.compiler_options) or None)
