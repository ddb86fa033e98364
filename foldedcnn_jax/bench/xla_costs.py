"""The jitted pure forward pass, compiled ahead of time, and XLA's own cost analysis of it."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx


@dataclasses.dataclass(frozen=True)
class XlaCost:
  """XLA's count for one call of a compiled computation (NaN where XLA gives none)."""

  flops: float
  bytes_accessed: float

  @property
  def arithmetic_intensity(self) -> float:
    if not self.bytes_accessed or math.isnan(self.bytes_accessed):
      return math.nan
    return self.flops / self.bytes_accessed


def forward(graphdef: nnx.GraphDef, state: nnx.State, folded_images: jax.Array) -> jax.Array:
  """Pure inference: rebuild the model from its split state and run it on folded images."""
  return nnx.merge(graphdef, state)(folded_images)


def forward_in_chunks(graphdef: nnx.GraphDef, state: nnx.State, folded_images: jax.Array,
                      micro_batch: int) -> jax.Array:
  """`forward` over consecutive chunks of `micro_batch` folded inputs (a `lax.map` loop).

  On a CPU, a chunk's activations stay in cache between layers where a whole batch's do not.
  A ragged last chunk is zero-padded; the padding's logits are dropped.
  """
  count = folded_images.shape[0]
  chunks = -(-count // micro_batch)
  size = -(-count // chunks)  # balanced chunks: at most chunks - 1 padded inputs
  padding = chunks * size - count
  if padding:
    folded_images = jnp.concatenate(
        [folded_images, jnp.zeros((padding, *folded_images.shape[1:]), folded_images.dtype)])
  model = nnx.merge(graphdef, state)
  logits = jax.lax.map(model, folded_images.reshape(chunks, size, *folded_images.shape[1:]))
  return logits.reshape(chunks * size, -1)[:count]


def compile_forward(model: nnx.Module, folded_images: jax.Array | jax.ShapeDtypeStruct,
                    compiler_options: dict | None = None, micro_batch: int = 0):
  """Splits `model` once and AOT-compiles the forward pass for this input shape and dtype.

  `micro_batch` > 0 runs the batch in chunks of that many folded inputs (0: all at once).
  Returns (compiled, state): call `compiled(state, folded_images)`.
  """
  graphdef, state = nnx.split(model)
  if 0 < micro_batch < folded_images.shape[0]:
    function = functools.partial(forward_in_chunks, graphdef, micro_batch=micro_batch)
  else:
    function = functools.partial(forward, graphdef)
  compiled = jax.jit(function).lower(state, folded_images).compile(compiler_options or None)
  return compiled, state


def xla_cost(compiled) -> XlaCost:
  """FLOPs and bytes accessed from `compiled.cost_analysis()` (a dict, or a list of dicts).

  XLA counts a loop body once, whatever its trip count: ask a program without `lax.map`.
  """
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  analysis = analysis or {}
  return XlaCost(float(analysis.get("flops", math.nan)),
                 float(analysis.get("bytes accessed", math.nan)))
