"""How a model's forward pass is run: one home for merging a split model and running it.

An execution `Variant` is everything about *how* the same function is compiled and run (XLA
options, the batch in chunks) that leaves the logits unchanged; the autotuner (`bench/tune.py`)
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

CompilerOptions = tuple[tuple[str, object], ...]


@dataclasses.dataclass(frozen=True)
class Variant:
  """One way to compile and run a forward pass; the default is XLA's defaults, one call."""

  compiler_options: CompilerOptions = ()
  micro_batch: int = 0  # images per chunk of the batch (0: the whole batch at once)

  @property
  def options_text(self) -> str:
    """The compiler options as "key=value,…" ("" for XLA's defaults)."""
    return ",".join(f"{key}={value}" for key, value in self.compiler_options)

  def label(self) -> str:
    parts = [f"chunks={self.micro_batch}"] if self.micro_batch else []
    if self.compiler_options:
      parts.append(f"xla[{self.options_text}]")
    return " ".join(parts) or "xla defaults"

  def to_json(self) -> dict:
    return {"compiler_options": [list(item) for item in self.compiler_options],
            "micro_batch": self.micro_batch}

  @classmethod
  def from_json(cls, data: dict) -> Variant:
    return cls(tuple((str(key), value) for key, value in data["compiler_options"]),
               int(data["micro_batch"]))


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


def forward(graphdef: nnx.GraphDef, state: nnx.State, folded_images: jax.Array) -> jax.Array:
  """Pure inference: rebuild the model from its split state and run it on folded images."""
  return nnx.merge(graphdef, state)(folded_images)


def forward_layer(graphdef: nnx.GraphDef, state: nnx.State, x: jax.Array, *,
                  position: int) -> jax.Array:
  """One layer of the plan on activations `x` (the per-layer profile)."""
  return nnx.merge(graphdef, state).run_layer(position, x)


def forward_in_chunks(graphdef: nnx.GraphDef, state: nnx.State, folded_images: jax.Array,
                      chunk_inputs: int) -> jax.Array:
  """`forward` over consecutive chunks of `chunk_inputs` folded inputs (a `lax.map` loop).

  On a CPU, a chunk's activations stay in cache between layers where a whole batch's do not.
  A ragged last chunk is zero-padded; the padding's logits are dropped.
  """
  count = folded_images.shape[0]
  chunks = -(-count // chunk_inputs)
  size = -(-count // chunks)  # balanced chunks: at most chunks - 1 padded inputs
  padding = chunks * size - count
  if padding:
    folded_images = jnp.concatenate(
        [folded_images, jnp.zeros((padding, *folded_images.shape[1:]), folded_images.dtype)])
  model = nnx.merge(graphdef, state)
  logits = jax.lax.map(model, folded_images.reshape(chunks, size, *folded_images.shape[1:]))
  return logits.reshape(chunks * size, -1)[:count]


def forward_function(graphdef: nnx.GraphDef, variant: Variant, fold: int, batch_inputs: int):
  """The pure `(state, folded_images) -> logits` that `variant` runs for this batch size."""
  chunk_inputs = -(-variant.micro_batch // fold)
  if 0 < chunk_inputs < batch_inputs:
    return functools.partial(forward_in_chunks, graphdef, chunk_inputs=chunk_inputs)
  return functools.partial(forward, graphdef)


def compile_forward(graphdef: nnx.GraphDef, state: nnx.State,
                    folded_images: jax.Array | jax.ShapeDtypeStruct, fold: int,
                    variant: Variant = Variant()):
  """AOT-compiles the forward pass of `variant` for this input shape and dtype.

  Returns the compiled program: call `compiled(state, folded_images)`.
  """
  function = forward_function(graphdef, variant, fold, folded_images.shape[0])
  return jax.jit(function).lower(state, folded_images).compile(
      dict(variant.compiler_options) or None)
