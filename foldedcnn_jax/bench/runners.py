"""One configuration: build the model with random weights, fold a batch, compile; then rates.

`prepare_jax` returns a call of the AOT-compiled XLA forward pass (the autotuned variant, or an
explicit one) with the folded batch already on the device (or, with `include_transfer`, copied
from the host on every call); peers (`bench/peers.py`) return one of PyTorch or ONNX Runtime on
the same folded batch and weights. `finish` turns a timing into rates.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from foldedcnn_jax import costs
from foldedcnn_jax.bench import records as records_lib
from foldedcnn_jax.bench import timing, xla_costs
from foldedcnn_jax.models import ModelSpec, compound_scaled, create_model, slots
from foldedcnn_jax.runtime import execution, folding, tune
from foldedcnn_jax.runtime.execution import Variant
from foldedcnn_jax.runtime.runner import Runner

# "folded": the f-folded model (f = 1: the original CNN); "compound": the EfficientNet-style
# baseline; "narrow": the f-folded model's narrow twin (`slots.slot_spec`: the original
# architecture at the folded widths // f) run unfolded on the same images; "embedded": the
# folded model with a narrow twin written into every slot (zero weights between slots), which
# the tuner may run slot by slot (execution.SLOT_GROUPS).
MODELS = ("folded", "compound", "narrow", "embedded")


@dataclasses.dataclass(frozen=True)
class Case:
  """One configuration of a sweep: a model, a framework and how it is run."""

  task: str
  model: str  # one of MODELS
  fold: int
  width_rounding: int
  batch_images: int
  framework: str = "jax"  # "jax" or one of peers.PEERS
  variant: Variant = Variant()  # how JAX runs it (ignored when `tuned`)
  tuned: bool = False  # the default path: the autotuner picks the variant
  onnx_file: str = ""  # an exported model to time on ONNX Runtime instead of a random one

  @classmethod
  def from_record(cls, record: records_lib.BenchRecord) -> Case:
    """The configuration a record was measured for."""
    variant = Variant(execution.parse_compiler_options(record.compiler_options),
                      record.micro_batch, record.formulation)
    return cls(record.task, record.model, record.fold, record.width_rounding,
               record.batch_images, record.framework, variant,
               record.variant_choice in records_lib.DEFAULT_PATH, record.source_file)

  def spec(self) -> ModelSpec:
    """The architecture run: for "narrow" the f = 1 twin of the fold-`fold` model."""
    if self.model == "compound":
      return compound_scaled(ModelSpec.for_task(self.task))
    folded = ModelSpec.for_task(self.task, fold=self.fold, width_rounding=self.width_rounding)
    return slots.slot_spec(folded) if self.model == "narrow" else folded

  def build_model(self, dtype: str, seed: int):
    """The model with random weights; "embedded" holds a random twin in each slot."""
    spec = self.spec()
    model = random_model(spec, dtype, seed)
    if self.model == "embedded":
      slots.embed_slots(random_model(slots.slot_spec(spec), dtype, seed + 1), model)
    return model

  def label(self) -> str:
    model = "" if self.model == "folded" else f" {self.model}"
    rounding = f" round{self.width_rounding}" if self.width_rounding != 1 else ""
    framework = "" if self.framework == "jax" else f" [{self.framework}]"
    if self.tuned and self.framework == "jax":
      variant = f" tuned[{self.variant.label()}]"
    else:
      variant = f" {self.variant.label()}" if self.variant != Variant() else ""
    source = f" {self.onnx_file}" if self.onnx_file else ""
    return (f"{self.task}{model} f={self.fold}{rounding} batch={self.batch_images}{variant}"
            f"{framework}{source}")


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
  tune_budget_seconds: float = tune.BUDGET_SECONDS  # per model tuned
  tune: str = "cached"  # tune.MODES: how the default path's variant is chosen
  tune_cache: str = ""  # the tuning cache file ("": tune.default_cache_path())


parse_compiler_options = execution.parse_compiler_options


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
  from foldedcnn_jax.bench import peers

  on_jax = case.framework == "jax"
  runs_fold = case.spec().fold  # 1 for a narrow twin: it runs unfolded
  return records_lib.BenchRecord(
      task=case.task, model=case.model, framework=case.framework, fold=case.fold,
      width_rounding=case.width_rounding, batch_images=case.batch_images,
      folded_inputs=folding.padded_size(case.batch_images, runs_fold) // runs_fold,
      dtype=settings.dtype, dtype_choice=settings.dtype_choice, input_dtype="uint8",
      includes_transfer=settings.include_transfer and on_jax,
      micro_batch=case.variant.micro_batch if on_jax else 0,
      platform=device.platform if on_jax else "cpu",
      device_kind=device.device_kind if on_jax else "cpu",
      device_detail=device_detail, jax_version=jax.__version__,
      framework_version=jax.__version__ if on_jax else peers.version(case.framework),
      trials=settings.trials, peak_flops_per_second=settings.peak_flops_per_second,
      peak_bytes_per_second=settings.peak_bytes_per_second, peak_source=settings.peak_source,
      compiler_options=case.variant.options_text if on_jax else "",
      variant_choice=("" if not on_jax else "pending" if case.tuned else "explicit"),
      formulation=case.variant.formulation if on_jax else "",
      source_file=case.onnx_file)


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

  A tuned case runs the autotuner's variant (chosen now, or read from its cache). Fills the
  record's variant, compile (and tuning) time and XLA cost analysis.
  """
  spec = case.spec()
  graphdef, state = nnx.split(case.build_model(settings.dtype, settings.seed))
  runner = Runner(graphdef, state, spec, batch_images=case.batch_images, tune_mode=settings.tune,
                  tune_cache=settings.tune_cache or None,
                  variant=None if case.tuned else case.variant,
                  budget_seconds=settings.tune_budget_seconds,
                  description=f"tuning {dataclasses.replace(case, tuned=False).label()}")
  host_batch = random_folded_batch(spec, case.batch_images, settings.seed)
  device_batch = runner.place(host_batch)
  start = time.perf_counter()
  choice = runner.choice
  variant, compiled = choice.variant, choice.compiled
  if case.tuned:
    record.variant_choice = choice.source
    record.compiler_options, record.micro_batch = variant.options_text, variant.micro_batch
    record.formulation = variant.formulation
  record.compile_seconds = time.perf_counter() - start
  whole_batch = compiled
  if variant.micro_batch and -(-variant.micro_batch // spec.fold) < device_batch.shape[0]:
    # A loop hides its trip count from XLA's cost analysis: ask the unchunked program.
    whole_batch = execution.compile_forward(graphdef, state, device_batch, spec.fold,
                                            Variant(variant.compiler_options, 0,
                                                    variant.formulation))
  xla = xla_costs.xla_cost(whole_batch)
  record.flops_per_image_xla = xla.flops / case.batch_images
  record.bytes_accessed_xla = xla.bytes_accessed
  record.arithmetic_intensity_xla = xla.arithmetic_intensity
  if settings.include_transfer:
    return lambda: compiled(state, jax.device_put(host_batch)).block_until_ready()
  return lambda: compiled(state, device_batch).block_until_ready()


def prepare(case: Case, settings: Settings,
            record: records_lib.BenchRecord) -> Callable[[], object]:
  """The blocking call that runs `case` once, in its framework."""
  if case.framework == "jax":
    return prepare_jax(case, settings, record)
  from foldedcnn_jax.bench import peers

  spec = case.spec()
  return peers.prepare(case.framework, spec, case.build_model(settings.dtype, settings.seed),
                       random_folded_batch(spec, case.batch_images, settings.seed),
                       dtype=settings.dtype, onnx_file=case.onnx_file,
                       include_transfer=settings.include_transfer)
