"""One configuration: build the model with random weights, fold a batch, compile; then rates.

`prepare_jax` returns a call of the AOT-compiled XLA forward pass with the folded batch already
on the device (or, with `include_transfer`, copied from the host on every call); `prepare_torch`
one of the eager PyTorch reference on the same folded batch. `finish` turns a timing into rates.
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from foldedcnn_jax import costs, folding
from foldedcnn_jax.bench import records as records_lib
from foldedcnn_jax.bench import timing, xla_costs
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import ModelSpec, compound_scaled, create_model

MODELS = ("folded", "compound")


@dataclasses.dataclass(frozen=True)
class Case:
  """One configuration of a sweep."""

  task: str
  model: str  # one of MODELS
  fold: int
  width_rounding: int
  batch_images: int
  framework: str = "jax"
  micro_batch: int = 0  # images per chunk of the batch (0: the whole batch at once)
  compiler_options: tuple[tuple[str, object], ...] = ()  # XLA options it is compiled with

  @classmethod
  def from_record(cls, record: records_lib.BenchRecord) -> Case:
    """The configuration a record was measured for."""
    return cls(record.task, record.model, record.fold, record.width_rounding,
               record.batch_images, record.framework, record.micro_batch,
               parse_compiler_options(record.compiler_options))

  @property
  def options_text(self) -> str:
    """The compiler options as "key=value,…" ("" for XLA's defaults)."""
    return ",".join(f"{key}={value}" for key, value in self.compiler_options)

  def spec(self) -> ModelSpec:
    if self.model == "compound":
      return compound_scaled(ModelSpec.for_task(self.task))
    return ModelSpec.for_task(self.task, fold=self.fold, width_rounding=self.width_rounding)

  def label(self) -> str:
    model = "" if self.model == "folded" else f" {self.model}"
    rounding = f" round{self.width_rounding}" if self.width_rounding != 1 else ""
    framework = "" if self.framework == "jax" else f" [{self.framework}]"
    chunks = f" chunks={self.micro_batch}" if self.micro_batch else ""
    options = f" xla[{self.options_text}]" if self.compiler_options else ""
    return (f"{self.task}{model} f={self.fold}{rounding} batch={self.batch_images}{chunks}"
            f"{options}{framework}")


@dataclasses.dataclass(frozen=True)
class Settings:
  """How every case of a sweep is measured."""

  dtype: str
  dtype_choice: str
  trials: int = 10
  warmup_calls: int = 3
  min_trial_seconds: float = 0.2
  include_transfer: bool = False
  seed: int = 0
  peak_flops_per_second: float = math.nan
  peak_bytes_per_second: float = math.nan
  peak_source: str = ""


def parse_compiler_options(text: str) -> tuple[tuple[str, object], ...]:
  """"xla_cpu_use_xnnpack=true,k=3" → (("xla_cpu_use_xnnpack", True), ("k", 3)).

  A comma not followed by `key=` stays in the value (repeated enum options: "t=A,B").
  """
  options = []
  for item in [part.strip() for part in re.split(r",(?=\s*\w+=)", str(text)) if part.strip()]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
      raise UserInputError(f"compiler option {item!r} is not key=value")
    value = value.strip()
    lowered = value.lower()
    if lowered in ("true", "false"):
      parsed: object = lowered == "true"
    else:
      try:
        parsed = int(value)
      except ValueError:
        try:
          parsed = float(value)
        except ValueError:
          parsed = value
    options.append((key.strip(), parsed))
  return tuple(options)


def random_model(spec: ModelSpec, dtype: str, seed: int):
  """The model of `spec` with random weights drawn on the host (fan-in scaled normal).

  Same structure as `create_model`, without compiling its initializers for every new layer
  shape (seconds per model on a CPU), which a benchmark whose weights are random anyway
  does not need.
  """
  abstract = nnx.eval_shape(lambda: create_model(spec, seed=seed, param_dtype=dtype, dtype=dtype))
  graphdef, state = nnx.split(abstract)
  rng = np.random.default_rng(seed)

  def draw(leaf):
    fan_in = math.prod(leaf.shape[:-1]) if len(leaf.shape) > 1 else 0
    values = rng.standard_normal(leaf.shape) / math.sqrt(fan_in) if fan_in else np.zeros(
        leaf.shape)
    return jnp.asarray(values, dtype=leaf.dtype)

  return nnx.merge(graphdef, jax.tree.map(draw, state))


def random_folded_batch(spec: ModelSpec, batch_images: int, seed: int) -> np.ndarray:
  """`batch_images` random uint8 images, folded on the host: (ceil(N/f), H, W, f·C)."""
  images = np.random.default_rng(seed).integers(
      0, 256, (batch_images, *spec.input_shape), dtype=np.uint8)
  return folding.fold(images, spec.fold)


def empty_record(case: Case, settings: Settings, device: jax.Device,
                 device_detail: str) -> records_lib.BenchRecord:
  """A record naming the configuration, with nothing measured yet (status "ok")."""
  framework_version = jax.__version__
  if case.framework == "torch":
    import torch

    framework_version = torch.__version__
  return records_lib.BenchRecord(
      task=case.task, model=case.model, framework=case.framework, fold=case.fold,
      width_rounding=case.width_rounding, batch_images=case.batch_images,
      folded_inputs=folding.padded_size(case.batch_images, case.fold) // case.fold,
      dtype=settings.dtype, dtype_choice=settings.dtype_choice, input_dtype="uint8",
      includes_transfer=settings.include_transfer and case.framework == "jax",
      micro_batch=case.micro_batch,
      platform=device.platform if case.framework == "jax" else "cpu",
      device_kind=device.device_kind if case.framework == "jax" else "cpu",
      device_detail=device_detail, jax_version=jax.__version__,
      framework_version=framework_version, trials=settings.trials,
      peak_flops_per_second=settings.peak_flops_per_second,
      peak_bytes_per_second=settings.peak_bytes_per_second, peak_source=settings.peak_source,
      compiler_options=case.options_text)


def finish(record: records_lib.BenchRecord, case: Case, measured: timing.Timing) -> None:
  """Fills `record`'s rates from the timing (images counted per image) and the cost model."""
  spec = case.spec()
  rates = measured.rates(record.batch_images)
  cost = costs.model_cost(spec, record.batch_images, jnp.dtype(record.dtype).itemsize)
  record.params = spec.params
  record.calls_per_trial = measured.calls_per_trial
  record.seconds_per_batch_median = measured.median_seconds
  record.images_per_second_median = statistics.median(rates)
  record.images_per_second_min = min(rates)
  record.images_per_second_max = max(rates)
  record.images_per_second_std = statistics.pstdev(rates)
  record.flops_per_image_model = cost.flops_per_image
  record.flops_per_second = cost.flops_per_image * record.images_per_second_median
  record.flops_per_second_xla = record.flops_per_image_xla * record.images_per_second_median
  record.memory_bytes_model = cost.memory_bytes
  record.arithmetic_intensity_model = cost.arithmetic_intensity


def prepare_jax(case: Case, settings: Settings,
                record: records_lib.BenchRecord) -> Callable[[], object]:
  """Builds and AOT-compiles the XLA forward pass of `case`; returns one blocking call.

  Fills the record's compile time and XLA cost analysis.
  """
  spec = case.spec()
  model = random_model(spec, settings.dtype, settings.seed)
  host_batch = random_folded_batch(spec, case.batch_images, settings.seed)
  device_batch = jax.device_put(host_batch)
  device_batch.block_until_ready()
  start = time.perf_counter()
  options = dict(case.compiler_options)
  chunk_inputs = -(-case.micro_batch // spec.fold)
  compiled, state = xla_costs.compile_forward(model, device_batch, options, chunk_inputs)
  record.compile_seconds = time.perf_counter() - start
  whole_batch = compiled
  if 0 < chunk_inputs < device_batch.shape[0]:  # a loop hides its trip count from XLA
    whole_batch, _ = xla_costs.compile_forward(model, device_batch, options)
  xla = xla_costs.xla_cost(whole_batch)
  record.flops_per_image_xla = xla.flops / case.batch_images
  record.bytes_accessed_xla = xla.bytes_accessed
  record.arithmetic_intensity_xla = xla.arithmetic_intensity
  if settings.include_transfer:
    return lambda: compiled(state, jax.device_put(host_batch)).block_until_ready()
  return lambda: compiled(state, device_batch).block_until_ready()


def prepare_torch(case: Case, settings: Settings,
                  record: records_lib.BenchRecord) -> Callable[[], object]:
  """Builds the eager PyTorch reference of `case` on the CPU; returns one blocking call."""
  import torch

  from foldedcnn_jax.bench import torch_reference

  spec = case.spec()
  model = torch_reference.build(spec, settings.dtype, seed=settings.seed)
  batch = torch_reference.to_nchw(random_folded_batch(spec, case.batch_images, settings.seed))
  record.compile_seconds = 0.0

  def call():
    with torch.inference_mode():
      return model(batch)

  return call


def prepare(case: Case, settings: Settings,
            record: records_lib.BenchRecord) -> Callable[[], object]:
  """The blocking call that runs `case` once, in its framework."""
  if case.framework == "torch":
    return prepare_torch(case, settings, record)
  return prepare_jax(case, settings, record)
