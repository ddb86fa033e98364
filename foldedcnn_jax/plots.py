"""Figures from a benchmark CSV: the Figure 7 and Figure 8 analogs, a roofline plot and, where
the CSV has peers, JAX's default path against them.

Figure 7: per task, throughput and FLOP/s of each FoldedCNN relative to the original CNN, and
the arithmetic intensity of all of them against the device's ridge point (dashed). Figure 8:
speedup over f = 1 versus batch size, one line per f. Roofline: achieved FLOP/s versus
arithmetic intensity under the device's peak compute and bandwidth. (Test accuracy against
images/s: `accuracy_plots`, which draws on this module's grid and titles.)
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402 - after choosing the headless backend

from foldedcnn_jax import files  # noqa: E402
from foldedcnn_jax.bench.records import (  # noqa: E402
    DEFAULT_PATH,
    BenchRecord,
    fastest_variants,
)
from foldedcnn_jax.errors import UserInputError  # noqa: E402

FIGURES = ("figure7", "figure8", "roofline")


@dataclasses.dataclass(frozen=True)
class Peaks:
  """Peak FLOP/s and bytes/s of the device (NaN when unknown) and where they came from."""

  flops_per_second: float
  bytes_per_second: float
  source: str

  @property
  def known(self) -> bool:
    return not (math.isnan(self.flops_per_second) or math.isnan(self.bytes_per_second))

  @property
  def ridge_point(self) -> float:
    """The arithmetic intensity (FLOP/byte) where the roofline turns from memory to compute."""
    return self.flops_per_second / self.bytes_per_second


def select(records: Sequence[BenchRecord], framework: str = "jax", dtype: str | None = None,
           micro_batch: int = 0, compiler_options: str = "",
           fastest: bool = False) -> list[BenchRecord]:
  """Successful rows of one framework, one variant and one dtype (default: the most common).

  The variant is a chunking and a set of XLA options, or, with `fastest`, each configuration's
  fastest row (`records.fastest_variants`, ratios against the fastest original CNN). Without
  either, the default path's (autotuned) rows where the CSV has them.
  """
  rows = [r for r in records if r.ok and r.framework == framework]
  if not rows:
    raise UserInputError(f"no successful {framework} rows to plot")
  default_path = [r for r in rows if r.variant_choice in DEFAULT_PATH]
  if fastest:
    rows = fastest_variants(rows)
  elif default_path and (micro_batch, compiler_options) == (0, ""):
    rows = default_path
  else:
    for field, wanted in (("micro_batch", micro_batch), ("compiler_options", compiler_options)):
      present = sorted({getattr(r, field) for r in rows})
      rows = [r for r in rows if getattr(r, field) == wanted]
      if not rows:
        raise UserInputError(f"no {framework} rows with {field} {wanted!r}; present: "
                             f"{', '.join(map(repr, present))}")
  if dtype is None:
    dtype = collections.Counter(r.dtype for r in rows).most_common(1)[0][0]
  rows = [r for r in rows if r.dtype == dtype]
  if not rows:
    raise UserInputError(f"no successful {framework} rows with dtype {dtype}")
  return rows


def peaks_of(records: Sequence[BenchRecord], peak_tflops: float | None = None,
             peak_bandwidth_gbs: float | None = None) -> Peaks:
  """The peaks recorded in the rows, each overridable (TFLOP/s, GB/s)."""
  recorded = next((r for r in records if not math.isnan(r.peak_flops_per_second)), None)
  flops = recorded.peak_flops_per_second if recorded else math.nan
  bandwidth = recorded.peak_bytes_per_second if recorded else math.nan
  source = recorded.peak_source if recorded else "unknown"
  if peak_tflops is not None:
    flops, source = peak_tflops * 1e12, "given"
  if peak_bandwidth_gbs is not None:
    bandwidth, source = peak_bandwidth_gbs * 1e9, "given"
  return Peaks(flops, bandwidth, source)


def default_batch(records: Sequence[BenchRecord]) -> int:
  """1024 (the paper's batch) when present, else the largest batch in the rows."""
  batches = {r.batch_images for r in records}
  return 1024 if 1024 in batches else max(batches)


def _folded(records, batch=None):
  return [r for r in records if r.model == "folded" and r.width_rounding == 1
          and (batch is None or r.batch_images == batch)]


def ordered(values) -> list:
  """The distinct values in first-seen order."""
  return list(dict.fromkeys(values))


def device_title(records: Sequence[BenchRecord]) -> str:
  """The device, dtype, framework and variant the rows measured, for a figure's title."""
  first = records[0]
  title = f"{first.device_detail} · {first.dtype} · {first.framework} {first.framework_version}"
  variants = {(r.micro_batch, r.compiler_options) for r in records}
  if all(r.variant_choice in DEFAULT_PATH for r in records) and first.framework == "jax":
    return title + " · the default path (autotuned)"
  if len(variants) > 1:
    return title + " · each model's fastest variant"
  micro_batch, options = variants.pop()
  return title + (f" · chunks of {micro_batch}" if micro_batch else "") + (
      f" · xla[{options}]" if options else "")


def figure7(records: Sequence[BenchRecord], path: str, peaks: Peaks,
            batch: int | None = None) -> None:
  """Throughput and FLOP/s relative to f = 1, and arithmetic intensity vs the ridge point."""
  batch = batch or default_batch(records)
  rows = _folded(records, batch)
  if not rows:
    raise UserInputError(f"no rows at batch {batch} to plot")
  tasks = ordered(r.task for r in rows)
  folds = sorted({r.fold for r in rows})
  by_key = {(r.task, r.fold): r for r in rows}
  palette = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
  colors = {f"f={fold}": palette[index % len(palette)] for index, fold in enumerate(folds)}
  compound = {r.task: r for r in records if r.model == "compound" and r.batch_images == batch}
  narrow = {(r.task, r.fold): r for r in records if r.model == "narrow" and r.batch_images == batch}
  figure, axes = pyplot.subplots(3, 1, figsize=(max(7, 0.9 * len(tasks) + 3), 10))
  panels = (("speedup_vs_f1", "throughput vs original", [f for f in folds if f != 1]),
            ("flops_per_second_ratio_vs_f1", "FLOP/s vs original", [f for f in folds if f != 1]),
            ("arithmetic_intensity_model", "arithmetic intensity (FLOP/byte)", folds))
  for axis, (field, label, shown) in zip(axes, panels, strict=True):
    series = [(f"f={f}", [getattr(by_key[(t, f)], field) if (t, f) in by_key else math.nan
                          for t in tasks]) for f in shown]
    if field == "speedup_vs_f1" and compound:
      series.append(("compound", [compound[t].speedup_vs_f1 if t in compound else math.nan
                                  for t in tasks]))
    if field == "speedup_vs_f1":  # each narrow twin hatched in its f's colour
      series.extend((f"narrow f={f}", [narrow[(t, f)].speedup_vs_f1 if (t, f) in narrow
                                       else math.nan for t in tasks])
                    for f in shown if any(key[1] == f for key in narrow))
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series):
      axis.bar([i + (index - (len(series) - 1) / 2) * width for i in range(len(tasks))],
               values, width, label=name,
               color=colors.get(name.removeprefix("narrow "), "dimgray"),
               hatch="//" if name.startswith("narrow") else None)
    if field == "arithmetic_intensity_model":
      axis.set_yscale("log")
      if peaks.known:
        axis.axhline(peaks.ridge_point, color="black", linestyle="--",
                     label=f"ridge point {peaks.ridge_point:.1f}")
    else:
      axis.axhline(1.0, color="gray", linewidth=0.8)
    axis.set_xticks(range(len(tasks)), tasks)
    axis.set_ylabel(label)
    axis.legend(fontsize=8)
  figure.suptitle(f"FoldedCNNs vs original, batch {batch} — {device_title(records)}", fontsize=10)
  figure.tight_layout()
  save_figure(figure, path)


def figure8(records: Sequence[BenchRecord], path: str) -> None:
  """Speedup over f = 1 versus batch size, one panel per task and one line per f."""
  rows = [r for r in _folded(records) if r.fold != 1 and not math.isnan(r.speedup_vs_f1)]
  if not rows:
    raise UserInputError("no folded rows with an f = 1 baseline to plot speedups")
  tasks = ordered(r.task for r in rows)
  figure, axes = task_grid(len(tasks), 3.6, 3.0)
  for axis, task in zip(axes, tasks, strict=True):
    for fold in sorted({r.fold for r in rows if r.task == task}):
      points = sorted((r.batch_images, r.speedup_vs_f1) for r in rows
                      if r.task == task and r.fold == fold)
      axis.plot(*zip(*points, strict=True), marker="o", label=f"f={fold}")
    axis.axhline(1.0, color="gray", linewidth=0.8)
    axis.set_xscale("log", base=2)
    label_axis(axis, task, "batch size (images)", "speedup vs f=1", 8)
  save_grid(figure, f"Speedup vs batch size — {device_title(records)}", 10, path)


def task_grid(count: int, width: float, height: float):
  """A figure of `count` panels, four to a line, and its used axes in order."""
  columns = min(count, 4)
  lines = -(-count // columns)
  figure, axes = pyplot.subplots(lines, columns, figsize=(width * columns, height * lines),
                                 squeeze=False)
  for axis in list(axes.flat)[count:]:
    axis.set_visible(False)
  return figure, list(axes.flat)[:count]


def label_axis(axis, title: str, xlabel: str, ylabel: str, legend_size: int) -> None:
  """A panel's title, axis labels and legend."""
  axis.set_title(title)
  axis.set_xlabel(xlabel)
  axis.set_ylabel(ylabel)
  axis.legend(fontsize=legend_size)


def save_grid(figure, title: str, size: int, path: str) -> None:
  """Titles a grid of panels, lays it out and saves it (`save_figure`)."""
  figure.suptitle(title, fontsize=size)
  figure.tight_layout()
  save_figure(figure, path)


def roofline(records: Sequence[BenchRecord], path: str, peaks: Peaks,
             batch: int | None = None) -> None:
  """Achieved FLOP/s vs (analytic) arithmetic intensity, under the device's roofline."""
  batch = batch or default_batch(records)
  # An embedded model's cost-model FLOPs are the folded model's, whichever way it ran: left out.
  rows = [r for r in records if r.batch_images == batch and r.model != "embedded"]
  if not rows:
    raise UserInputError(f"no rows at batch {batch} to plot")
  figure, axis = pyplot.subplots(figsize=(7, 5))
  tasks = ordered(r.task for r in rows)
  markers = dict(zip(sorted({r.fold for r in rows}), "os^Dvph*", strict=False))
  colors = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
  for task_index, task in enumerate(tasks):
    for row in (r for r in rows if r.task == task):
      color = colors[task_index % len(colors)]
      hollow = dict(facecolors="none", edgecolors=color) if row.model == "narrow" else dict(
          color=color)
      axis.scatter(row.arithmetic_intensity_model, row.flops_per_second, **hollow,
                   marker="x" if row.model == "compound" else markers.get(row.fold, "o"),
                   label=task if row.fold == 1 and row.model == "folded" else None)
  intensities = [r.arithmetic_intensity_model for r in rows]
  if peaks.known:
    low = min(min(intensities), peaks.ridge_point) / 4
    high = max(max(intensities), peaks.ridge_point) * 4
    axis.plot([low, peaks.ridge_point, high],
              [low * peaks.bytes_per_second, peaks.flops_per_second, peaks.flops_per_second],
              color="black", linestyle="--",
              label=f"roof: {peaks.flops_per_second / 1e12:.3g} TFLOP/s, "
                    f"{peaks.bytes_per_second / 1e9:.3g} GB/s ({peaks.source})")
  axis.set_xscale("log")
  axis.set_yscale("log")
  axis.set_xlabel("arithmetic intensity (FLOP/byte, cost model)")
  axis.set_ylabel("achieved FLOP/s")
  fold_note = ", ".join(f"{m} f={f}" for f, m in markers.items())
  axis.set_title(f"Roofline, batch {batch} ({fold_note}; hollow: narrow twin of f; x compound)"
                 f"\n{device_title(rows)}",
                 fontsize=9)
  axis.legend(fontsize=7)
  save_figure(figure, path)


def plot_all(records: Sequence[BenchRecord], out_dir: str, *, framework: str = "jax",
             dtype: str | None = None, batch: int | None = None, micro_batch: int = 0,
             compiler_options: str = "", fastest: bool = False, peak_tflops: float | None = None,
             peak_bandwidth_gbs: float | None = None) -> list[str]:
  """Draws every figure into `out_dir` as <name>.png; returns the paths written."""
  rows = select(records, framework, dtype, micro_batch, compiler_options, fastest)
  peaks = peaks_of(rows, peak_tflops, peak_bandwidth_gbs)
  if batch is not None and batch not in {r.batch_images for r in rows}:
    raise UserInputError(f"no rows at batch {batch}; batches present: "
                         f"{', '.join(map(str, sorted({r.batch_images for r in rows})))}")
  paths = [os.path.join(out_dir, f"{name}.png") for name in FIGURES]
  figure7(rows, paths[0], peaks, batch)
  figure8(rows, paths[1])
  roofline(rows, paths[2], peaks, batch)
  if framework == "jax" and any(r.ok and r.framework != "jax" for r in records):
    paths.append(os.path.join(out_dir, "peers.png"))
    figure_peers([*rows, *(r for r in records if r.ok and r.framework != "jax")], paths[-1],
                 batch or default_batch(rows))
  return paths


def figure_peers(records: Sequence[BenchRecord], path: str, batch: int) -> None:
  """Images/s per task and f of JAX's rows next to each peer's, at one batch size."""
  rows = [r for r in _folded(records, batch) if not r.source_file]
  frameworks = ordered(r.framework for r in rows)
  columns = ordered((r.task, r.fold) for r in rows)
  rates = {(r.framework, r.task, r.fold): r.images_per_second_median for r in rows}
  figure, axis = pyplot.subplots(figsize=(max(6, 0.7 * len(columns)), 4))
  width = 0.8 / len(frameworks)
  for index, framework in enumerate(frameworks):
    axis.bar([c + index * width for c in range(len(columns))],
             [rates.get((framework, *column), math.nan) for column in columns], width,
             label=framework)
  axis.set_xticks([c + 0.4 - width / 2 for c in range(len(columns))],
                  [f"{task}\nf={fold}" for task, fold in columns], fontsize=7)
  axis.set_ylabel("images/s")
  axis.set_title(f"JAX and its peers, batch {batch}\n{device_title(rows[:1])}", fontsize=9)
  axis.legend(fontsize=7)
  save_figure(figure, path)


def save_figure(figure, path: str) -> None:
  """Saves a PNG atomically (files.atomic_path) and closes the figure."""
  try:
    with files.atomic_path(path) as temporary:
      figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")
  finally:
    pyplot.close(figure)
