"""Autotuned execution: try the execution variants of a model on this device, keep the fastest.

The choice is cached on disk per (device, jax version, model spec, batch, dtypes), so the
benchmark's default rows, the predictor and the video filter all run a model the fastest way
found without timing it again. Modes: "off" (XLA's defaults), "cached" (time only what the
cache lacks), "always" (time again and overwrite the cache). Tuning shows a progress bar and is
bounded: a time budget per model, and candidates clearly slower than the best dropped after
each round of trials.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence

import jax
import numpy as np
from flax import nnx

from foldedcnn_jax import files
from foldedcnn_jax.bench import devices, timing
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import ModelSpec
from foldedcnn_jax.runtime import execution, slot_groups
from foldedcnn_jax.runtime.execution import YNNPACK_OFF, Variant, compile_forward

MODES = ("off", "cached", "always")
CACHE_ENV = "FOLDEDCNN_TUNE_CACHE"
CACHE_VERSION = 1
# The cost bound: past BUDGET_SECONDS per model no further candidate is compiled and no round
# of trials starts (each compiled one still gets a trial), and after every round a candidate
# slower than PRUNE_RATIO × the best median so far stops. Untimed, n4 and its compound model
# tuned for 15 silent minutes on the CPU (issue 28); the winners were 1.0-1.3x apart there.
BUDGET_SECONDS = 120.0
PRUNE_RATIO = 1.5

# What is worth trying per platform. On XLA:CPU the YNNPACK fusions win on some models and
# Eigen's kernels on others, and chunks keep a chunk's activations in cache between layers.
# On GPUs: XLA's defaults and command buffers off (CUDA graphs cost a capture on shapes that
# change; 8 % faster on n4 f = 1 on the H100), plus the padded formulations below. The most
# thorough autotuning (xla_gpu_autotune_level=4) and cuDNN's exhaustive tiling search were
# dropped after the H100 run: over 20 models neither beat the best other variant by more than
# 4 %, inside the trials' spread (results/h100/tune_seconds.txt), and each cost a compile.
CANDIDATES: dict[str, tuple[Variant, ...]] = {
    "cpu": (Variant(), Variant(YNNPACK_OFF), Variant((), 64), Variant(YNNPACK_OFF, 64),
            Variant((), 256), Variant(YNNPACK_OFF, 256)),
    "gpu": (Variant(), Variant((("xla_gpu_enable_command_buffer", ""),))),
}


def check_mode(mode: str) -> str:
  if mode not in MODES:
    raise UserInputError(f"unknown tune mode {mode!r}; use one of {', '.join(MODES)}")
  return mode


# Max pools as strided-slice maxima: tried on XLA:CPU for models with pools.
SLICED_POOL_CPU = (Variant((), 0, "sliced_pool"), Variant(YNNPACK_OFF, 0, "sliced_pool"),
                   Variant(YNNPACK_OFF, 64, "sliced_pool"))


# Hidden channels padded to a multiple of 8 (widened layers of 45 or 55 channels): on the H100
# 1.6-2.7x faster at f = 2 and 3, where padding the input's f·C channels too won every time; on
# XLA:CPU padding the input lost everywhere (v1-v4, n4: 1.3-2.3x slower), so it is GPU-only.
PADDED_CHANNELS = {"gpu": (Variant((), 0, "padded_channels"),),
                   "cpu": (Variant((), 0, "padded_channels"),
                           Variant(YNNPACK_OFF, 0, "padded_channels"))}


# A block-diagonal folded model (an embedded slot model) run slot by slot, 1/f of the
# multiply-adds: as grouped convolutions or as f ordinary narrow ones (execution SLOT_GROUPS),
# offered only when its weights are (slot_groups.is_block_diagonal). On XLA:CPU the grouped
# convolutions ran 2-4x slower than the folded model in a first probe (v1, n2 at f = 4; Eigen
# only: YNNPACK's were slower still), the split slots 0.8-1.6x its speed.
SLOT_GROUPS = {"gpu": (Variant((), 0, "slot_groups"), Variant((), 0, "slot_split")),
               "cpu": (Variant(YNNPACK_OFF, 0, "slot_groups"), Variant((), 0, "slot_split"),
                       Variant((), 256, "slot_split"),
                       Variant((), 64, "slot_split_sliced_pool"),
                       Variant(YNNPACK_OFF, 64, "slot_split_sliced_pool"))}


def candidates(platform: str, spec: ModelSpec | None = None,
               block_diagonal: bool = False) -> tuple[Variant, ...]:
  """The variants tried on `platform` (cuda and rocm count as gpu); XLA's defaults first.

  `block_diagonal`: the model's weights between slots are zero (add the grouped variants).
  """
  platform = "gpu" if platform in ("cuda", "rocm") else platform
  found = CANDIDATES.get(platform, (Variant(),))
  if spec is None:
    return found
  if platform == "cpu" and any(layer.kind == "pool" for layer in spec.plan()):
    found += SLICED_POOL_CPU
  if execution.pads_channels(spec):
    found += PADDED_CHANNELS.get(platform, ())
  if platform == "gpu" and execution.pads_input(spec):
    found += (Variant((), 0, "padded_input"),)
  if platform == "gpu" and execution.densifies_groups(spec):  # G× the FLOPs: not on a CPU
    found += (Variant((), 0, "dense_groups"),)
  if block_diagonal:
    found += SLOT_GROUPS.get(platform, ())
  return found


def tune_key(spec: ModelSpec, batch_inputs: int, input_dtype: str, dtype: str,
             device: jax.Device | None = None, block_diagonal: bool = False) -> str:
  """The cache key: what makes a choice valid (device kind, jax version, model, batch, dtypes,
  and for a block-diagonal model that it is one: its choice may be a grouped variant)."""
  device = device or jax.devices()[0]
  # On a CPU jax's device kind is just "cpu": the CPU model and core count tell hosts apart.
  detail = devices.describe(device).detail if device.platform == "cpu" else ""
  # Added only when true, so the keys of every other model read as before.
  blocks = {"slot_blocks": True} if block_diagonal else {}
  return json.dumps({**blocks,
      "device": f"{device.platform}:{device.device_kind}:{detail}", "jax": jax.__version__,
      "spec": [spec.architecture, list(spec.input_shape), spec.pool_policy, spec.fold,
               spec.width_multiplier, spec.width_rounding],
      "batch_inputs": batch_inputs, "input_dtype": input_dtype, "dtype": dtype}, sort_keys=True)


def default_cache_path() -> str:
  """$FOLDEDCNN_TUNE_CACHE, else ~/.cache/foldedcnn_jax/tune.json."""
  return os.environ.get(CACHE_ENV) or os.path.join(
      os.path.expanduser("~"), ".cache", "foldedcnn_jax", "tune.json")


class TuneCache:
  """The chosen variant per key, in one JSON file (rewritten atomically on every choice).

  A file that cannot be read as a tuning cache is reported (a warning) and rebuilt.
  """

  def __init__(self, path: str | None = None):
    self.path = path or default_cache_path()
    self.entries: dict[str, dict] = {}
    if os.path.exists(self.path):
      try:
        with open(self.path) as file:
          data = json.load(file)
        if data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
          raise ValueError(f"not a version-{CACHE_VERSION} tuning cache")
        self.entries = data["entries"]
      except (OSError, ValueError, AttributeError) as error:
        warnings.warn(f"tuning cache {self.path} is corrupt ({error}); rebuilding it",
                      stacklevel=2)

  def get(self, key: str) -> Variant | None:
    entry = self.entries.get(key)
    try:
      return Variant.from_json(entry["variant"]) if entry else None
    except (KeyError, TypeError, ValueError):
      return None  # a damaged entry is re-tuned

  def put(self, key: str, variant: Variant, seconds: dict[str, float]) -> None:
    self.entries[key] = {"variant": variant.to_json(), "seconds": seconds}
    with files.atomic_path(self.path) as temporary, open(temporary, "w") as file:
      json.dump({"version": CACHE_VERSION, "entries": self.entries}, file, indent=1)


@dataclasses.dataclass(frozen=True)
class Choice:
  """The variant a model runs with, its compiled program and where the choice came from."""

  variant: Variant
  compiled: Callable
  source: str  # "off" (XLA's defaults) | "cache" | "tuned"
  seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # per variant tried


def choose(graphdef: nnx.GraphDef, state: nnx.State, spec: ModelSpec,
           example: jax.ShapeDtypeStruct, *, mode: str = "cached", dtype: str = "float32",
           cache: TuneCache | None = None, variants: Sequence[Variant] | None = None,
           trials: int = 3, min_trial_seconds: float = 0.05,
           budget_seconds: float = BUDGET_SECONDS, prune_ratio: float = PRUNE_RATIO,
           progress: bool = True, description: str = "") -> Choice:
  """Compiles `spec`'s forward pass for batches like `example` the fastest way found.

  "cached" reuses the cache's choice without timing; otherwise the candidates are compiled and
  timed round-robin on random inputs within `budget_seconds` (pruning those over `prune_ratio`
  × the best after each round), the fastest median wins and is written to the cache. With
  `progress`, a tqdm bar on stderr names the model (`description`) and the candidate.
  """
  check_mode(mode)
  if mode == "off":
    return Choice(Variant(), compile_forward(graphdef, state, example, spec.fold), "off")
  cache = cache if cache is not None else TuneCache()
  block_diagonal = slot_groups.is_block_diagonal(nnx.merge(graphdef, state))
  key = tune_key(spec, example.shape[0], str(np.dtype(example.dtype)), dtype,
                 block_diagonal=block_diagonal)
  if mode == "cached" and (known := cache.get(key)) is not None:
    return Choice(known, compile_forward(graphdef, state, example, spec.fold, known), "cache")
  variants = tuple(variants or candidates(jax.devices()[0].platform, spec, block_diagonal))
  deadline = time.perf_counter() + budget_seconds
  description = description or f"tuning f={spec.fold} {spec.architecture}"
  with _progress_bar(len(variants) * (1 + trials), description, progress) as bar:
    compiled = _compile_within(graphdef, state, example, spec.fold, variants, deadline, bar)
    if not compiled:
      raise RuntimeError(f"no execution variant of {spec.architecture!r} compiled")
    bar.total = bar.n + len(compiled) * trials
    bar.set_postfix_str(f"timing {len(compiled)} variants")
    batch = jax.device_put(_random_batch(example))
    timings = timing.time_interleaved(
        [lambda c=c: c(state, batch).block_until_ready() for c in compiled.values()],
        trials=trials, warmup_calls=1, min_trial_seconds=min_trial_seconds,
        prune_ratio=prune_ratio, deadline=deadline, on_trial=bar.update)
  seconds = {variant.label(): measured.median_seconds
             for variant, measured in zip(compiled, timings, strict=True)
             if isinstance(measured, timing.Timing)}
  best = min((v for v, t in zip(compiled, timings, strict=True) if isinstance(t, timing.Timing)),
             key=lambda v: seconds[v.label()])
  cache.put(key, best, seconds)
  return Choice(best, compiled[best], "tuned", seconds)


def _compile_within(graphdef, state, example, fold: int, variants: Sequence[Variant],
                    deadline: float, bar) -> dict[Variant, Callable]:
  """Compiles the variants in order until `deadline` (the first always); a failure is skipped."""
  compiled = {}
  for index, variant in enumerate(variants):
    if compiled and time.perf_counter() > deadline:
      if not bar.disable:
        bar.write(f"{bar.desc}: time budget spent, {len(variants) - index} of {len(variants)} "
                  "candidates not tried")
      break
    bar.set_postfix_str(f"compiling {variant.label()}")
    try:
      compiled[variant] = compile_forward(graphdef, state, example, fold, variant)
    except Exception:  # noqa: BLE001 - an option this XLA lacks is just not a candidate
      pass
    bar.update()
  return compiled


def _progress_bar(total: int, description: str, enabled: bool):
  from tqdm import tqdm

  return tqdm(total=total, desc=description, unit="step", leave=False, file=sys.stderr,
              disable=not enabled, mininterval=1.0)


def _random_batch(example: jax.ShapeDtypeStruct) -> np.ndarray:
  rng = np.random.default_rng(0)
  if np.issubdtype(example.dtype, np.integer):
    return rng.integers(0, 256, example.shape).astype(example.dtype)
  return rng.random(example.shape).astype(example.dtype)
