"""Human-readable per-layer summary of a task's (folded) model, from the cost model."""

from __future__ import annotations

from foldedcnn_jax import costs
from foldedcnn_jax.models import spec as spec_lib

_COLUMNS = ("layer", "output shape", "params", "FLOPs/input", "bytes", "arith. int.")


def _row(layer: costs.LayerCost, folded_inputs: int) -> tuple[str, ...]:
  intensity = f"{layer.arithmetic_intensity:.2f}" if layer.ops else "-"
  return (layer.name, "x".join(map(str, layer.out_shape)), f"{layer.params:,}",
          f"{layer.ops // folded_inputs:,}", f"{layer.memory_bytes:,}", intensity)


def format_table(cost: costs.ModelCost) -> str:
  """A per-layer table (FLOPs per folded input, bytes for the whole batch) plus totals."""
  spec = cost.spec
  rows = [_COLUMNS] + [_row(layer, cost.folded_inputs) for layer in cost.layers]
  rows.append(("total", "", f"{cost.params:,}", f"{int(cost.flops_per_input):,}",
               f"{cost.memory_bytes:,}", f"{cost.arithmetic_intensity:.2f}"))
  widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
  lines = [
      f"architecture: {spec.architecture}  input: {'x'.join(map(str, spec.input_shape))}  "
      f"fold: {spec.fold}  width x{spec.multiplier:.4g}",
      f"batch: {cost.batch_images} images = {cost.folded_inputs} folded inputs, "
      f"{cost.bytes_per_element} bytes/element",
  ]
  for index, row in enumerate(rows):
    if index in (1, len(rows) - 1):
      lines.append("  ".join("-" * width for width in widths))
    lines.append("  ".join(cell.rjust(width) if i else cell.ljust(width)
                           for i, (cell, width) in enumerate(zip(row, widths, strict=True))))
  lines.append(f"FLOPs per image: {cost.flops_per_image:,.0f}   "
               f"FLOPs per folded input: {cost.flops_per_input:,.0f}")
  return "\n".join(lines)


def task_cost(task_id: str, fold: int = 1, batch_images: int = 1024, bytes_per_element: int = 2,
              width_multiplier: float | None = None, width_rounding: int = 1,
              architecture: str | None = None) -> costs.ModelCost:
  """The cost model of task `task_id` at fold `fold` (optionally with another architecture)."""
  overrides = dict(fold=fold, width_multiplier=width_multiplier, width_rounding=width_rounding)
  if architecture:
    overrides["architecture"] = architecture
  return costs.model_cost(spec_lib.ModelSpec.for_task(task_id, **overrides), batch_images,
                          bytes_per_element)
