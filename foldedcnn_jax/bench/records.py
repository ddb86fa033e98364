"""One benchmark record per configuration, ratios against the original CNN, and CSV in/out."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Sequence

from foldedcnn_jax import files
from foldedcnn_jax.errors import UserInputError

# variant_choice values of the default path (the autotuner's pick, or XLA's defaults with
# tuning off): these rows compare with each other whatever variant each one ended up with.
DEFAULT_PATH = ("tuned", "cache", "off")


@dataclasses.dataclass
class BenchRecord:
  """A configuration (task × model × fold × batch × …) and what was measured for it.

  Images are counted per image: a batch of N images is ceil(N/f) folded inputs, and
  images_per_second = N / seconds per batch. FLOPs follow the cost model (2·MACs of conv and
  dense layers) unless the column says xla; bytes_accessed_xla is XLA's estimate per batch.
  """

  task: str
  # "folded" (f = 1 is the original CNN) | "compound" (EfficientNet-style baseline) | "narrow"
  # (the f-folded model's narrow twin, run unfolded; `fold` is the f it is the twin of) |
  # "embedded" (the folded model with zero weights between slots: a twin in every slot)
  model: str
  framework: str  # "jax" | a peer (bench/peers.py): torch (eager NCHW), torch_compile, …
  fold: int
  width_rounding: int
  batch_images: int
  folded_inputs: int
  dtype: str
  dtype_choice: str  # "auto" (the platform default) | "explicit"
  input_dtype: str
  includes_transfer: bool
  micro_batch: int  # images per chunk the batch was run in (0: the whole batch at once)
  platform: str
  device_kind: str
  device_detail: str
  jax_version: str
  framework_version: str
  status: str = "ok"  # "ok" | "failed"
  error: str = ""
  params: int = 0
  trials: int = 0
  calls_per_trial: int = 0
  compile_seconds: float = math.nan
  seconds_per_batch_median: float = math.nan
  images_per_second_median: float = math.nan
  images_per_second_min: float = math.nan
  images_per_second_max: float = math.nan
  images_per_second_std: float = math.nan
  flops_per_image_model: float = math.nan
  flops_per_image_xla: float = math.nan
  flops_per_second: float = math.nan  # cost-model FLOPs per image × images/s
  flops_per_second_xla: float = math.nan
  memory_bytes_model: float = math.nan  # per batch, B·(E_io + E_l)
  bytes_accessed_xla: float = math.nan  # per batch
  arithmetic_intensity_model: float = math.nan
  arithmetic_intensity_xla: float = math.nan
  speedup_vs_f1: float = math.nan  # images/s over the original CNN's at the same batch
  flops_per_second_ratio_vs_f1: float = math.nan
  peak_flops_per_second: float = math.nan
  peak_bytes_per_second: float = math.nan
  peak_source: str = ""
  compiler_options: str = ""
  # How the JAX variant was chosen: "tuned" (timed now), "cache" (the tuning cache's choice),
  # "off" (XLA's defaults, tuning off) — the default path — or "explicit" (a swept variant).
  variant_choice: str = ""
  source_file: str = ""  # the exported ONNX file timed, if any
  formulation: str = ""  # how slow layers were written (execution.FORMULATIONS)

  @property
  def ok(self) -> bool:
    return self.status == "ok"

  def baseline_key(self) -> tuple:
    """Rows with the same key share one original (f = 1, unrounded) CNN as their baseline.

    Default-path rows compare with the default path's f = 1, whatever variant each one runs.
    """
    if self.variant_choice in DEFAULT_PATH:
      return self.setting_key() + ("default path", self.source_file != "")
    return self.setting_key() + (self.micro_batch, self.compiler_options, self.formulation,
                                 self.source_file != "")

  def setting_key(self) -> tuple:
    """What a fair comparison holds fixed: task, framework, batch, dtypes, transfer, device.

    It leaves out how the program was run (chunking, XLA options): those are variants of it.
    """
    return (self.task, self.framework, self.batch_images, self.dtype, self.input_dtype,
            self.includes_transfer, self.device_kind)

  def configuration_key(self) -> tuple:
    """One model in one setting; its rows differ only in chunking and XLA options."""
    return self.setting_key() + (self.model, self.fold, self.width_rounding)

  def is_baseline(self) -> bool:
    return self.model == "folded" and self.fold == 1 and self.width_rounding == 1


FIELDS = tuple(field.name for field in dataclasses.fields(BenchRecord))
# Columns added later: a CSV written before them reads with their defaults.
_OPTIONAL = ("variant_choice", "source_file", "formulation")
_TYPES = {field.name: field.type for field in dataclasses.fields(BenchRecord)}


def add_ratios(records: Sequence[BenchRecord],
               key: Callable[[BenchRecord], tuple] = BenchRecord.baseline_key) -> None:
  """Fills speedup_vs_f1 and flops_per_second_ratio_vs_f1 in place (NaN without a baseline).

  A record's baseline is the original CNN's record with the same `key`.
  """
  baselines = {key(r): r for r in records if r.ok and r.is_baseline()}
  for record in records:
    baseline = baselines.get(key(record))
    if not record.ok or baseline is None:
      record.speedup_vs_f1 = record.flops_per_second_ratio_vs_f1 = math.nan
      continue
    record.speedup_vs_f1 = record.images_per_second_median / baseline.images_per_second_median
    record.flops_per_second_ratio_vs_f1 = record.flops_per_second / baseline.flops_per_second


def fastest_variants(records: Sequence[BenchRecord]) -> list[BenchRecord]:
  """Per configuration, a copy of its fastest successful row, ratios against the fastest f = 1.

  This is each model at its best over the variants swept (chunking, XLA options), the way an
  inference engine keeps the fastest of the kernels it tried. First-appearance order.
  """
  fastest: dict[tuple, BenchRecord] = {}
  for record in records:
    if not record.ok:
      continue
    best = fastest.get(record.configuration_key())
    if best is None or record.images_per_second_median > best.images_per_second_median:
      fastest[record.configuration_key()] = record
  chosen = [dataclasses.replace(record) for record in fastest.values()]
  add_ratios(chosen, key=BenchRecord.setting_key)
  return chosen


def write_csv(records: Iterable[BenchRecord], path: str) -> None:
  """Writes all records to `path` atomically (files.atomic_path)."""
  with files.atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
    writer = csv.DictWriter(file, fieldnames=FIELDS)
    writer.writeheader()
    for record in records:
      writer.writerow({name: _format(getattr(record, name)) for name in FIELDS})


def read_csv(path: str) -> list[BenchRecord]:
  """Reads records written by `write_csv`; a missing file or foreign columns is a UserInputError."""
  if not os.path.isfile(path):
    raise UserInputError(f"no benchmark CSV at {path}")
  with open(path, newline="") as file:
    reader = csv.DictReader(file)
    present = set(reader.fieldnames or ())
    missing = [name for name in FIELDS if name not in present and name not in _OPTIONAL]
    if missing:
      shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
      raise UserInputError(f"{path} is not a benchmark CSV: missing columns {shown}")
    try:
      return [BenchRecord(**{name: _parse(name, row[name]) for name in FIELDS if name in row})
              for row in reader]
    except ValueError as error:
      raise UserInputError(f"{path}: malformed value ({error})") from None


def _format(value) -> str:
  if isinstance(value, float):
    return "" if math.isnan(value) else repr(value)
  return str(value)


def _parse(name: str, text: str):
  kind = _TYPES[name]
  if kind == "int":
    return int(text)
  if kind == "float":
    return math.nan if text == "" else float(text)
  if kind == "bool":
    if text not in ("True", "False"):
      raise ValueError(f"{name}={text!r} is not True/False")
    return text == "True"
  return text


def slowest_task(records: Sequence[BenchRecord], fold: int) -> str | None:
  """The task whose JAX FoldedCNN at `fold` has the fewest images/s (None if no such row)."""
  rows = [r for r in records if r.ok and r.framework == "jax" and r.model == "folded"
          and r.fold == fold and not math.isnan(r.images_per_second_median)]
  return min(rows, key=lambda r: r.images_per_second_median).task if rows else None
