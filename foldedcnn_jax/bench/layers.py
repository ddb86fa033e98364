"""Where a forward pass spends its time: each layer of the plan compiled and timed on its own.

The layers run one compiled program each, so XLA cannot fuse across them and the sum is an upper
bound on the whole model's time; what it shows is which layers dominate and how fast each runs
(e.g. a 3-channel first convolution far below the others' FLOP/s).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx

from foldedcnn_jax import costs
from foldedcnn_jax.bench import runners, timing, xla_costs
from foldedcnn_jax.models import ModelSpec
from foldedcnn_jax.runtime import execution


@dataclasses.dataclass(frozen=True)
class LayerTiming:
  """One layer over a whole batch: its shapes, the cost model's FLOPs and the median time."""

  name: str  # the cost model's name: conv1, pool1, dense1, …
  kind: str
  input_shape: tuple[int, ...]
  output_shape: tuple[int, ...]
  flops: float  # 2·MACs over the batch (0 for a pool)
  seconds: float  # median seconds per call

  @property
  def flops_per_second(self) -> float:
    return self.flops / self.seconds if self.flops else math.nan


def _random_model_and_batch(spec: ModelSpec, batch_images: int, dtype: str, seed: int):
  """The benchmark's random-weight model and its folded uint8 batch on the device."""
  model = runners.random_model(spec, dtype, seed)
  return model, jnp.asarray(runners.random_folded_batch(spec, batch_images, seed))


def time_layers(spec: ModelSpec, batch_images: int, *, dtype: str = "float32",
                compiler_options: dict | None = None, seed: int = 0, trials: int = 5,
                warmup_calls: int = 2, min_trial_seconds: float = 0.1) -> list[LayerTiming]:
  """Times every layer of `spec`'s model (random weights) on a batch of `batch_images` images.

  Each layer gets the previous layer's real output as its input, compiled ahead of time with
  `compiler_options`; the input scaling (uint8 → [0, 1]) is not timed.
  """
  model, batch = _random_model_and_batch(spec, batch_images, dtype, seed)
  graphdef, state = nnx.split(model)
  x = jax.block_until_ready(model.prepare_input(batch))
  layer_costs = costs.model_cost(spec, batch_images, jnp.dtype(dtype).itemsize).layers
  timings = []
  for position, layer_cost in enumerate(layer_costs):
    compiled = jax.jit(functools.partial(execution.forward_layer, position=position)).lower(
        graphdef, state, x).compile(compiler_options or None)
    output = jax.block_until_ready(compiled(graphdef, state, x))  # the next layer's input
    measured = timing.time_calls(lambda c=compiled, x=x: c(graphdef, state, x).block_until_ready(),
                                 trials=trials, warmup_calls=warmup_calls,
                                 min_trial_seconds=min_trial_seconds)
    timings.append(LayerTiming(layer_cost.name, layer_cost.kind, tuple(x.shape),
                               tuple(output.shape), float(layer_cost.ops),
                               measured.median_seconds))
    x = output
  return timings


def time_whole_model(spec: ModelSpec, batch_images: int, *, dtype: str = "float32",
                     compiler_options: dict | None = None, seed: int = 0, trials: int = 5,
                     warmup_calls: int = 2, min_trial_seconds: float = 0.1) -> float:
  """Median seconds of the whole forward pass (uint8 input, as the benchmark times it)."""
  model, batch = _random_model_and_batch(spec, batch_images, dtype, seed)
  graphdef, state = nnx.split(model)
  variant = execution.Variant(tuple((compiler_options or {}).items()))
  compiled = execution.compile_forward(graphdef, state, batch, spec.fold, variant)
  measured = timing.time_calls(lambda: compiled(state, batch).block_until_ready(), trials=trials,
                               warmup_calls=warmup_calls, min_trial_seconds=min_trial_seconds)
  return measured.median_seconds


def whole_model_kernels(spec: ModelSpec, batch_images: int, *, dtype: str = "float32",
                        compiler_options: dict | None = None,
                        seed: int = 0) -> list[tuple[str, int]]:
  """The kernels XLA compiled the whole forward pass into (xla_costs.kernel_counts)."""
  model, batch = _random_model_and_batch(spec, batch_images, dtype, seed)
  graphdef, state = nnx.split(model)
  variant = execution.Variant(tuple((compiler_options or {}).items()))
  return xla_costs.kernel_counts(
      execution.compile_forward(graphdef, state, batch, spec.fold, variant))


def format_table(timings: list[LayerTiming]) -> str:
  """A per-layer table: shapes, milliseconds, share of the total and GFLOP/s."""
  total = sum(t.seconds for t in timings)
  lines = [f"{'layer':7s} {'input':>20s} {'output':>20s} {'ms':>9s} {'share':>6s} {'GFLOP/s':>8s}"]
  for t in timings:
    rate = "-" if math.isnan(t.flops_per_second) else f"{t.flops_per_second / 1e9:.1f}"
    lines.append(f"{t.name:7s} {'x'.join(map(str, t.input_shape)):>20s} "
                 f"{'x'.join(map(str, t.output_shape)):>20s} {t.seconds * 1e3:9.2f} "
                 f"{t.seconds / total:6.1%} {rate:>8s}")
  flops = sum(t.flops for t in timings)
  lines.append(f"{'total':7s} {'':>20s} {'':>20s} {total * 1e3:9.2f} {1:6.0%} "
               f"{flops / total / 1e9:8.1f}")
  return "\n".join(lines)
