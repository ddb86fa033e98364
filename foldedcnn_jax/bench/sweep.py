"""A benchmark sweep: config → validated cases → one record each, written as it goes.

A case that fails (out of memory, a compile error, …) becomes a "failed" record with the error
and the sweep goes on; a mistake in the config itself is a UserInputError before anything runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Sequence

import jax
import ml_collections

from foldedcnn_jax import tasks as tasks_lib
from foldedcnn_jax.bench import devices, peers, runners, timing
from foldedcnn_jax.bench import records as records_lib
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import DTYPES, ModelSpec
from foldedcnn_jax.runtime import execution, tune

PEAK_MODES = ("auto", "table", "measure", "none")


@dataclasses.dataclass(frozen=True)
class SweepPlan:
  """What a benchmark config asks for, validated: the cases in run order and how to time them."""

  cases: tuple[runners.Case, ...]
  settings: runners.Settings
  out: str
  peaks: str = "auto"  # one of PEAK_MODES
  interleave: bool = True  # time a task's configurations round-robin
  notes: tuple[str, ...] = ()  # e.g. a peer skipped because its package is missing


def _items(value, name: str) -> tuple:
  """A config list field as a non-empty tuple (a single value counts as one item)."""
  items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
  if not items or any(isinstance(item, str) and not item.strip() for item in items):
    raise UserInputError(f"{name} is empty; give a tuple, e.g. {name}=(...)")
  return items


def _positive_ints(value, name: str, minimum: int = 1) -> tuple[int, ...]:
  values = []
  for item in _items(value, name):
    try:
      number = int(item)
    except (TypeError, ValueError):
      raise UserInputError(f"{name}: {item!r} is not an integer") from None
    if number < minimum:
      raise UserInputError(f"{name}: {number} must be >= {minimum}")
    values.append(number)
  return tuple(values)


def parse_option_sets(sets) -> tuple[execution.CompilerOptions, ...]:
  """("default", "xla_cpu_experimental_ynn_fusion_type=") → ((), (("xla_cpu_…", ""),)).

  Each item is one set of XLA options "key=value,…"; "default" (or "") is XLA's defaults.
  Every JAX configuration is compiled and timed once per set.
  """
  parsed = []
  for text in _items(sets, "compiler_options") if sets not in ("", ()) else ("",):
    options = execution.parse_compiler_options(text)
    if options in parsed:
      raise UserInputError(f"compiler option set {text or 'default'!r} is given twice")
    parsed.append(options)
  return tuple(parsed)


def benchmark_dtype(requested: str, platform: str) -> tuple[str, str]:
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


def plan_sweep(config: ml_collections.ConfigDict, platform: str | None = None) -> SweepPlan:
  """Validates `config` and expands it into cases (raises UserInputError on a bad field).

  With XLA's default variant only (no micro_batch, no option sets), each JAX model gets one
  row on the default path: the autotuned variant (`config.tune`). Variants given explicitly
  are swept one row each instead.
  """
  platform = platform or jax.devices()[0].platform
  task_ids = tuple(str(task) for task in _items(config.tasks, "tasks"))
  for task_id in task_ids:
    tasks_lib.get_task(task_id)
  folds = _positive_ints(config.folds, "folds")
  batch_sizes = _positive_ints(config.batch_sizes, "batch_sizes")
  roundings = _positive_ints(config.width_rounding, "width_rounding")
  micro_batches = _positive_ints(config.micro_batch, "micro_batch", minimum=0)
  if config.trials < 1 or config.warmup_calls < 0 or config.min_trial_seconds < 0:
    raise UserInputError("need trials >= 1, warmup_calls >= 0 and min_trial_seconds >= 0")
  dtype, dtype_choice = benchmark_dtype(config.dtype, platform)
  tune.check_mode(config.tune)
  option_sets = parse_option_sets(config.compiler_options)
  explicit = option_sets != ((),) or set(micro_batches) != {0}
  peers_wanted = tuple(str(peer) for peer in config.peers)
  notes = tuple(note for peer in peers_wanted if (note := peers.missing(peer)))
  if any(peer not in peers.PEERS for peer in peers_wanted):
    raise UserInputError(notes[0])
  peers_run = tuple(peer for peer in peers_wanted if not peers.missing(peer))
  twins = tuple(model for model in ("narrow", "embedded") if config[model])
  without_twins = [task for task in task_ids if not _has_twins(task)]
  if twins and without_twins:
    notes += (f"no narrow twins for {', '.join(without_twins)}: grouped convolutions",)
  cases = []
  for batch in batch_sizes:
    for task_id in task_ids:
      # Each task's variants and peers run back to back so they share the machine's conditions.
      for variant in _variants(option_sets, micro_batches, batch, explicit):
        common = dict(batch_images=batch, variant=variant, tuned=not explicit)
        cases.extend(runners.Case(task_id, "folded", fold, rounding, **common)
                     for rounding in roundings for fold in folds)
        if config.compound:
          cases.append(runners.Case(task_id, "compound", 1, 1, **common))
        if twins and _has_twins(task_id):
          cases.extend(runners.Case(task_id, model, fold, 1, **common)
                       for model in twins for fold in folds if fold > 1)
      cases.extend(runners.Case(task_id, "folded", fold, 1, batch, peer)
                   for peer in peers_run for fold in folds)
  cases.extend(_onnx_file_cases(config.onnx_files, batch_sizes))
  settings = runners.Settings(
      dtype=dtype, dtype_choice=dtype_choice, trials=config.trials,
      warmup_calls=config.warmup_calls, min_trial_seconds=config.min_trial_seconds,
      include_transfer=config.include_transfer, seed=config.seed, tune=config.tune,
      tune_cache=config.tune_cache, tune_budget_seconds=config.tune_budget_seconds)
  if config.peaks not in PEAK_MODES:
    raise UserInputError(f"unknown peaks mode {config.peaks!r}; use one of {', '.join(PEAK_MODES)}")
  if not config.out:
    raise UserInputError("out is empty; give the CSV path to write")
  return SweepPlan(tuple(cases), settings, config.out, config.peaks, config.interleave, notes)


def _has_twins(task_id: str) -> bool:
  """Whether the task's folded models have narrow twins (slot_spec needs ungrouped convs)."""
  return all(layer.groups == 1 for layer in ModelSpec.for_task(task_id).plan())


def _variants(option_sets, micro_batches, batch: int, explicit: bool):
  if not explicit:
    return (execution.Variant(),)
  return tuple(execution.Variant(options, micro_batch) for micro_batch in micro_batches
               if micro_batch < batch for options in option_sets)


def _onnx_file_cases(paths, batch_sizes) -> list[runners.Case]:
  """One ONNX Runtime row per exported file and batch size (task and f from its metadata)."""
  if not paths:
    return []
  from foldedcnn_jax import export

  cases = []
  for path in _items(paths, "onnx_files"):
    if not os.path.isfile(path):
      raise UserInputError(f"onnx_files: no file {path}")
    metadata = export.read_metadata(path)
    spec = export.spec_from_metadata(metadata)
    if not metadata.get("task"):
      raise UserInputError(f"onnx_files: {path} names no task (export it with experiments.export)")
    cases.extend(runners.Case(metadata["task"], "folded", spec.fold,
                              spec.width_rounding, batch, "onnxruntime", onnx_file=path)
                 for batch in batch_sizes)
  return cases


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


def run_sweep(plan: SweepPlan,
              progress: Callable[[str], None] = print) -> list[records_lib.BenchRecord]:
  """Runs every case of `plan`, one task at a time, rewriting `plan.out` after each task."""
  device_info = devices.describe()
  peak_flops, peak_bytes, source = resolve_peaks(plan.peaks, device_info.kind, plan.settings.dtype)
  settings = dataclasses.replace(plan.settings, peak_flops_per_second=peak_flops,
                                 peak_bytes_per_second=peak_bytes, peak_source=source)
  progress(f"device: {device_info.kind} ({device_info.detail}); dtype {settings.dtype} "
           f"({settings.dtype_choice}); {len(plan.cases)} configurations → {plan.out}")
  for note in plan.notes:
    progress(f"note: {note}")
  records: list[records_lib.BenchRecord] = []
  for _, group in itertools.groupby(plan.cases, key=lambda c: (c.batch_images, c.task)):
    group = list(group)
    records.extend(measure_group(group, settings, device_info.detail, plan.interleave))
    records_lib.add_ratios(records)
    records_lib.write_csv(records, plan.out)
    for offset, (case, record) in enumerate(zip(group, records[-len(group):], strict=True)):
      index = len(records) - len(group) + offset + 1
      label = runners.Case.from_record(record).label() if record.ok else case.label()
      progress(f"[{index}/{len(plan.cases)}] {label}: {describe_result(record)}")
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
