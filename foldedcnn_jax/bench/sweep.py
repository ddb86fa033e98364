"""A benchmark sweep: config → validated cases → one record each, written as it goes.

A case that fails (out of memory, a compile error, …) becomes a "failed" record with the error
and the sweep goes on; a mistake in the config itself is a UserInputError before anything runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence

import jax
import ml_collections

from foldedcnn_jax import tasks as tasks_lib
from foldedcnn_jax.bench import devices, runners, timing
from foldedcnn_jax.bench import records as records_lib
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import DTYPES

PEAK_MODES = ("auto", "table", "measure", "none")


@dataclasses.dataclass(frozen=True)
class Plan:
  """What a config asks for, validated: the cases in run order and how to measure them."""

  cases: tuple[runners.Case, ...]
  settings: runners.Settings
  out: str
  peaks: str = "auto"  # one of PEAK_MODES
  interleave: bool = True  # time a task's configurations round-robin


def _split(text: str, name: str) -> list[str]:
  items = [item.strip() for item in str(text).split(",") if item.strip()]
  if not items:
    raise UserInputError(f"{name} is empty; give a comma-separated list")
  return items


def _positive_ints(text: str, name: str, minimum: int = 1) -> list[int]:
  values = []
  for item in _split(text, name):
    try:
      value = int(item)
    except ValueError:
      raise UserInputError(f"{name}: {item!r} is not an integer") from None
    if value < minimum:
      raise UserInputError(f"{name}: {value} must be >= {minimum}")
    values.append(value)
  return values


def parse_option_sets(text: str) -> tuple[tuple[tuple[str, object], ...], ...]:
  """"default;xla_cpu_experimental_ynn_fusion_type=" → ((), (("xla_cpu_…", ""),)).

  Sets are separated by ";"; "default" (or nothing) is XLA's defaults. Every JAX configuration
  is compiled and timed once per set, so a sweep can compare XLA's code generators.
  """
  sets = []
  for part in str(text).split(";"):
    part = part.strip()
    options = () if part in ("", "default") else runners.parse_compiler_options(part)
    if options in sets:
      raise UserInputError(f"compiler option set {part or 'default'!r} is given twice")
    sets.append(options)
  return tuple(sets)


def resolve_dtype(requested: str, platform: str) -> tuple[str, str]:
  """(dtype, how it was chosen): "auto" picks the platform default (fp32 on CPU)."""
  if requested == "auto":
    return devices.default_dtype(platform), "auto"
  if requested not in DTYPES:
    raise UserInputError(f"unknown dtype {requested!r}; use auto or one of {', '.join(DTYPES)}")
  return requested, "explicit"


def resolve_peaks(mode: str, device_kind: str, dtype: str) -> tuple[float, float, str]:
  """(peak FLOP/s, peak bytes/s, source): the known-device table, else a quick measurement."""
  if mode not in PEAK_MODES:
    raise UserInputError(f"unknown peaks mode {mode!r}; use one of {', '.join(PEAK_MODES)}")
  if mode == "none":
    return math.nan, math.nan, ""
  known = devices.known_peaks(device_kind) if mode != "measure" else None
  if known is not None:
    return known.peak_flops(dtype), known.bytes_per_second, f"table: {known.name}"
  if mode == "table":
    return math.nan, math.nan, ""
  measured = devices.measure_peaks(dtype)
  return measured.peak_flops(dtype), measured.bytes_per_second, "measured"


def make_plan(config: ml_collections.ConfigDict, platform: str | None = None) -> Plan:
  """Validates `config` and expands it into cases (raises UserInputError on a bad field)."""
  platform = platform or jax.devices()[0].platform
  task_ids = _split(config.tasks, "tasks")
  for task_id in task_ids:
    tasks_lib.get_task(task_id)
  folds = _positive_ints(config.folds, "folds")
  batch_sizes = _positive_ints(config.batch_sizes, "batch_sizes")
  roundings = _positive_ints(config.width_rounding, "width_rounding")
  micro_batches = _positive_ints(config.micro_batch, "micro_batch", minimum=0)
  if config.trials < 1 or config.warmup_calls < 0 or config.min_trial_seconds < 0:
    raise UserInputError("need trials >= 1, warmup_calls >= 0 and min_trial_seconds >= 0")
  dtype, dtype_choice = resolve_dtype(config.dtype, platform)
  if config.compare_torch:
    from foldedcnn_jax.bench import torch_reference

    if not torch_reference.available():
      raise UserInputError("compare_torch needs PyTorch: pip install torch (CPU wheel)")
    if platform != "cpu":
      raise UserInputError("compare_torch runs the eager PyTorch reference on CPU only")
  option_sets = parse_option_sets(config.compiler_options)
  cases = []
  for batch in batch_sizes:
    for task_id in task_ids:
      # Each task's variants run back to back so they share the machine's conditions.
      for options in option_sets:
        variant = dict(batch_images=batch, compiler_options=options)
        cases.extend(runners.Case(task_id, "folded", fold, 1, **variant) for fold in folds)
        for micro_batch in (m for m in micro_batches if 0 < m < batch):  # the model in chunks
          cases.extend(runners.Case(task_id, "folded", fold, 1, micro_batch=micro_batch,
                                    **variant) for fold in folds)
        for rounding in (r for r in roundings if r != 1):
          cases.extend(runners.Case(task_id, "folded", fold, rounding, **variant)
                       for fold in folds)
        if config.compound:
          cases.append(runners.Case(task_id, "compound", 1, 1, **variant))
      if config.compare_torch:
        cases.extend(runners.Case(task_id, "folded", fold, 1, batch, "torch") for fold in folds)
  settings = runners.Settings(
      dtype=dtype, dtype_choice=dtype_choice, trials=config.trials,
      warmup_calls=config.warmup_calls, min_trial_seconds=config.min_trial_seconds,
      include_transfer=config.include_transfer, seed=config.seed)
  if config.peaks not in PEAK_MODES:
    raise UserInputError(f"unknown peaks mode {config.peaks!r}; use one of {', '.join(PEAK_MODES)}")
  if not config.out:
    raise UserInputError("out is empty; give the CSV path to write")
  return Plan(tuple(cases), settings, config.out, config.peaks, config.interleave)


def _failed(record: records_lib.BenchRecord, error: Exception) -> None:
  message = str(error).strip().splitlines()
  record.status = "failed"
  record.error = f"{type(error).__name__}: {message[0] if message else ''}"[:300]


def measure_group(cases: Sequence[runners.Case], settings: runners.Settings, device_detail: str,
                  interleave: bool = True) -> list[records_lib.BenchRecord]:
  """Prepares and times `cases`; a case that fails becomes a "failed" record, the rest go on.

  With `interleave`, the cases' trials run round-robin (see timing.time_interleaved).
  """
  device = jax.devices()[0]
  group = [runners.empty_record(case, settings, device, device_detail) for case in cases]
  ready = []  # (case, record, call) of the cases that built and compiled
  for case, record in zip(cases, group, strict=True):
    try:
      ready.append((case, record, runners.prepare(case, settings, record)))
    except Exception as error:  # noqa: BLE001 - an OOM or compile error must not end the sweep
      _failed(record, error)
  options = dict(trials=settings.trials, warmup_calls=settings.warmup_calls,
                 min_trial_seconds=settings.min_trial_seconds)
  if interleave:
    timings = timing.time_interleaved([call for _, _, call in ready], **options)
  else:
    timings = [_time_or_error(call, options) for _, _, call in ready]
  for (case, record, _), measured in zip(ready, timings, strict=True):
    if isinstance(measured, Exception):
      _failed(record, measured)
    else:
      runners.finish(record, case, measured)
  return group


def _time_or_error(call, options) -> timing.Timing | Exception:
  try:
    return timing.time_calls(call, **options)
  except Exception as error:  # noqa: BLE001
    return error


def run_case(case: runners.Case, settings: runners.Settings,
             device_detail: str) -> records_lib.BenchRecord:
  """Measures one case on its own (failures recorded, never raised)."""
  return measure_group([case], settings, device_detail)[0]


def run_sweep(plan: Plan, progress: Callable[[str], None] = print) -> list[records_lib.BenchRecord]:
  """Runs every case of `plan`, one task at a time, rewriting `plan.out` after each task."""
  device_info = devices.describe()
  peak_flops, peak_bytes, source = resolve_peaks(plan.peaks, device_info.kind, plan.settings.dtype)
  settings = dataclasses.replace(plan.settings, peak_flops_per_second=peak_flops,
                                 peak_bytes_per_second=peak_bytes, peak_source=source)
  progress(f"device: {device_info.kind} ({device_info.detail}); dtype {settings.dtype} "
           f"({settings.dtype_choice}); {len(plan.cases)} configurations → {plan.out}")
  records: list[records_lib.BenchRecord] = []
  for _, group in itertools.groupby(plan.cases, key=lambda c: (c.batch_images, c.task)):
    group = list(group)
    records.extend(measure_group(group, settings, device_info.detail, plan.interleave))
    records_lib.add_ratios(records)
    records_lib.write_csv(records, plan.out)
    for offset, (case, record) in enumerate(zip(group, records[-len(group):], strict=True)):
      index = len(records) - len(group) + offset + 1
      progress(f"[{index}/{len(plan.cases)}] {case.label()}: {describe_result(record)}")
  return records


def describe_result(record: records_lib.BenchRecord) -> str:
  """A one-line summary of a record for progress output."""
  if not record.ok:
    return f"FAILED ({record.error})"
  text = (f"{record.images_per_second_median:,.0f} images/s "
          f"(±{record.images_per_second_std:,.0f}), "
          f"{record.flops_per_second / 1e9:,.1f} GFLOP/s")
  if not math.isnan(record.speedup_vs_f1) and not record.is_baseline():
    text += f", {record.speedup_vs_f1:.2f}x vs f=1"
  return text


def summary_table(records: Sequence[records_lib.BenchRecord]) -> str:
  """Images/s and speedup, one line per record; then, where a configuration was run in several
  variants (chunking, XLA options), its fastest one against the fastest original CNN."""
  text = _table(records, "configuration")
  fastest = records_lib.fastest_variants(records)
  if len(fastest) < sum(record.ok for record in records):
    text += "\n\n" + _table(fastest, "fastest variant (speedup over the fastest f=1)")
  return text


def _table(records: Sequence[records_lib.BenchRecord], title: str) -> str:
  labels = [runners.Case.from_record(record).label() for record in records]
  width = max([len(title), *map(len, labels)])
  lines = [f"{title:{width}s} {'images/s':>12s} {'speedup':>8s} {'GFLOP/s':>9s}"]
  for record, label in zip(records, labels, strict=True):
    if not record.ok:
      lines.append(f"{label:{width}s} FAILED: {record.error}")
      continue
    lines.append(f"{label:{width}s} {record.images_per_second_median:12,.0f} "
                 f"{record.speedup_vs_f1:8.2f} {record.flops_per_second / 1e9:9.1f}")
  return "\n".join(lines)
