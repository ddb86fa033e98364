"""Slot-wise warm start: a FoldedCNN that begins as f copies of one narrow original CNN.

A FoldedCNN shares no weights between its f slots, so each slot's reader learns from 1/f of
the images, and the other slots' images are noise to it: trained from a random start, folded
game models sit at chance for many epochs (the bottleneck conv's units die first). The
authors' answer was 1500+ epochs. Here the slots start out already trained: `slot_spec(spec)`
is the original (f = 1) architecture with each hidden layer as wide as one of the folded
layer's f channel blocks; a model of that spec learns from every image, like the original.
`embed_slots` then writes it into the FoldedCNN block-diagonally (slot j's channels only feed
slot j's channels, and its logits), so the FoldedCNN computes exactly f independent copies of
it, and ordinary folded training goes on from there, free to use the connections between
slots. Channels left over when a width is not a multiple of f keep their random incoming
weights (so they can learn) and feed nothing until training connects them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from flax import nnx

from foldedcnn_jax.models import spec as spec_lib
from foldedcnn_jax.models.spec import ArchitectureError


def slot_spec(spec: spec_lib.ModelSpec) -> spec_lib.ModelSpec:
  """The f = 1 architecture whose hidden widths are the folded widths divided by f."""
  fold, plan = spec.fold, spec.plan()
  layers, hidden = [], iter(layer for layer in plan if layer.kind != "pool")
  for layer in spec.layers:
    if isinstance(layer, spec_lib.Pool):
      layers.append(layer)
      continue
    planned = next(hidden)
    if planned.groups != 1:
      raise ArchitectureError("slot-wise warm start needs ungrouped convs")
    width = planned.out_channels // fold
    if width < 1:
      raise ArchitectureError(f"{planned.name} has {planned.out_channels} channels, fewer than "
                              f"f = {fold} slots")
    if isinstance(layer, spec_lib.Conv):
      layers.append(dataclasses.replace(layer, channels=width))
    else:
      layers.append(spec_lib.Dense(width))
  return spec_lib.ModelSpec(
      architecture=spec_lib.format_architecture(tuple(layers)), input_shape=spec.input_shape,
      pool_policy="explicit", fold=1, width_multiplier=1.0)


def _block_rows(count: int, fold: int, flat_channels: int | None = None) -> np.ndarray:
  """Slot of each input row (-1: a leftover channel); flattened (h, w, c) rows when given."""
  channels = flat_channels or count
  block = channels // fold
  slot = np.arange(channels) // max(block, 1)
  slot[slot >= fold] = -1
  return np.tile(slot, count // channels) if flat_channels else slot


def embed_slots(slot_model: nnx.Module, folded_model: nnx.Module) -> None:
  """Writes `slot_model` (built from `slot_spec(folded_model.spec)`) into every slot, in place."""
  fold = folded_model.spec.fold
  slot_plan, folded_plan = slot_model.plan, folded_model.plan
  if spec_lib.format_architecture(slot_spec(folded_model.spec).layers) != \
      spec_lib.format_architecture(slot_model.spec.layers):
    raise ArchitectureError("the slot model is not slot_spec(folded_model.spec)")
  previous_channels: tuple[int, int] | None = None  # (slot, folded) channels feeding a flatten
  for position, (narrow, wide) in enumerate(zip(slot_plan, folded_plan, strict=True)):
    if wide.kind == "pool":
      continue
    source = slot_model.layers[slot_model.module_index[position]]
    target = folded_model.layers[folded_model.module_index[position]]
    kernel = np.array(target.kernel[...], dtype=np.float32)
    bias = np.array(target.bias[...], dtype=np.float32)
    small_kernel = np.asarray(source.kernel[...], np.float32)
    small_bias = np.asarray(source.bias[...], np.float32)
    out_block = narrow.out_channels
    flat = previous_channels if wide.kind == "dense" and position and \
        folded_plan[position - 1].kind != "dense" else None
    in_slots = _block_rows(wide.in_channels, fold, flat[1] if flat else None)
    out_slots = np.arange(wide.out_channels) // out_block
    out_slots[out_slots >= fold] = -1
    # Block rows of other slots feed nothing; leftover input rows feed nothing either.
    kernel[..., (in_slots[:, None] != out_slots[None, :]) & (out_slots[None, :] >= 0)] = 0.0
    kernel[..., in_slots < 0, :] = 0.0
    for slot in range(fold):
      rows = np.flatnonzero(in_slots == slot)
      columns = slice(slot * out_block, (slot + 1) * out_block)
      kernel[..., rows, columns] = small_kernel.reshape(*kernel.shape[:-2], len(rows),
                                                        out_block)
      bias[columns] = small_bias
    target.kernel[...] = kernel.astype(target.kernel[...].dtype)
    target.bias[...] = bias.astype(target.bias[...].dtype)
    if wide.kind == "conv":
      previous_channels = (narrow.out_channels, wide.out_channels)
