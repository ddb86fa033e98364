"""The jitted pure forward pass, compiled ahead of time, and XLA's own cost analysis of it."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
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


def compile_forward(model: nnx.Module, folded_images: jax.Array | jax.ShapeDtypeStruct,
                    compiler_options: dict | None = None):
  """Splits `model` once and AOT-compiles `forward` for this input shape and dtype.

  Returns (compiled, state): call `compiled(state, folded_images)`.
  """
  graphdef, state = nnx.split(model)
  jitted = jax.jit(functools.partial(forward, graphdef))
  compiled = jitted.lower(state, folded_images).compile(compiler_options or None)
  return compiled, state


def xla_cost(compiled) -> XlaCost:
  """FLOPs and bytes accessed from `compiled.cost_analysis()` (a dict, or a list of dicts)."""
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  analysis = analysis or {}
  return XlaCost(float(analysis.get("flops", math.nan)),
                 float(analysis.get("bytes accessed", math.nan)))
