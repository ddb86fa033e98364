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

import jax
import jax.numpy as jnp
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


def _layer_slots(folded_model: nnx.Module):
  """Per weight layer of a folded model: (plan position, slot of each input row, slot of each
  output column, input channels per position), -1 for a leftover channel (a width that is not
  a multiple of f); a dense layer after a flatten repeats its rows' slots once per position."""
  fold, plan = folded_model.spec.fold, folded_model.plan
  flat_channels: int | None = None  # folded channels of the conv feeding a flatten
  for position, wide in enumerate(plan):
    if wide.kind == "pool":
      continue
    flattens = wide.kind == "dense" and position and plan[position - 1].kind != "dense"
    channels = flat_channels if flattens else wide.in_channels
    in_slots = _block_rows(wide.in_channels, fold, flat_channels if flattens else None)
    out_slots = np.arange(wide.out_channels) // (wide.out_channels // fold)
    out_slots[out_slots >= fold] = -1
    yield position, in_slots, out_slots, channels
    if wide.kind == "conv":
      flat_channels = wide.out_channels


def _between_slots(in_slots: np.ndarray, out_slots: np.ndarray) -> np.ndarray:
  """(in, out) True where a weight connects two different slots or leaves a leftover channel.
  A leftover channel's incoming weights are its own (False): what it computes reaches the
  slots only through its outgoing weights."""
  return ((in_slots[:, None] != out_slots[None, :]) & (out_slots[None, :] >= 0)) | \
      (in_slots[:, None] < 0)


def embed_slots(slot_model, folded_model: nnx.Module, *, cross_slot_scale: float = 0.0) -> None:
  """Writes `slot_model` (built from `slot_spec(folded_model.spec)`) into every slot, in place;
  a sequence of f such models puts model j into slot j.

  The weights between slots become `cross_slot_scale` × their random initial values (0: exactly
  zero, so the folded model computes f independent copies of the slot model; > 0: a small,
  non-zero start for folded training that can use them).
  """
  fold = folded_model.spec.fold
  slot_models = list(slot_model) if isinstance(slot_model, (list, tuple)) else [slot_model] * fold
  if len(slot_models) != fold:
    raise ArchitectureError(f"{len(slot_models)} slot models for f = {fold} slots")
  wanted = spec_lib.format_architecture(slot_spec(folded_model.spec).layers)
  if any(spec_lib.format_architecture(model.spec.layers) != wanted for model in slot_models):
    raise ArchitectureError("the slot model is not slot_spec(folded_model.spec)")
  scale_cross_slot(folded_model, cross_slot_scale)
  for position, in_slots, _, _ in _layer_slots(folded_model):
    target = folded_model.layers[folded_model.module_index[position]]
    kernel = np.array(target.kernel[...], dtype=np.float32)
    bias = np.array(target.bias[...], dtype=np.float32)
    for slot, model in enumerate(slot_models):
      source = model.layers[model.module_index[position]]
      small_kernel = np.asarray(source.kernel[...], np.float32)
      out_block = model.plan[position].out_channels
      rows = np.flatnonzero(in_slots == slot)
      columns = slice(slot * out_block, (slot + 1) * out_block)
      kernel[..., rows, columns] = small_kernel.reshape(*kernel.shape[:-2], len(rows),
                                                        out_block)
      bias[columns] = np.asarray(source.bias[...], np.float32)
    target.kernel[...] = kernel.astype(target.kernel[...].dtype)
    target.bias[...] = bias.astype(target.bias[...].dtype)


def scale_cross_slot(folded_model: nnx.Module, scale: float) -> None:
  """Multiplies the weights between slots (those `cross_slot_masks` marks) by `scale`, in place."""
  for position, in_slots, out_slots, _ in _layer_slots(folded_model):
    target = folded_model.layers[folded_model.module_index[position]]
    kernel = np.array(target.kernel[...], dtype=np.float32)
    kernel[..., _between_slots(in_slots, out_slots)] *= scale
    target.kernel[...] = kernel.astype(target.kernel[...].dtype)


def slot_tying(folded_model: nnx.Module):
  """A function `tie(tree, pick_first=False)` that ties a tree shaped like the model's
  parameters (the parameters, or their gradients) across slots, for a folded model whose slots
  are exchangeable: every slot's own block of a kernel, and its bias, becomes the mean over the f
  slots, and every block between two slots the mean over the f·(f − 1) ordered pairs of
  different slots; a channel left over when a width is not a multiple of f reads every slot
  with the same weights and feeds every slot with the same weights. Trained with tied gradients
  from a tied start, the model stays slot-equivariant (permuting the images of a group permutes
  their logits) and every weight learns from all f images of a group, as a model alone learns
  from every image. `pick_first` ties to slot 0's (and slot 0 → slot 1's) weights instead of
  the means: a tied start at the draws' scale."""
  fold = folded_model.spec.fold
  if fold < 2:
    raise ArchitectureError("tying slots needs a folded model (f > 1)")
  # Slot j's channels are the j-th block of a width (leftover channels last). Per layer: (input
  # channels per position, input and output channels per slot).
  layouts = {}
  for position, in_slots, out_slots, channels in _layer_slots(folded_model):
    layouts[folded_model.module_index[position]] = (
        channels, int(np.sum(in_slots[:channels] == 0)), int(np.sum(out_slots == 0)))
  same_slot = np.eye(fold, dtype=bool)[:, None, :, None]

  def tie_over(values, axis, pick_first):
    """`values` with its slot axis `axis` replaced by slot 0's or the mean, broadcast back."""
    tied = jnp.take(values, 0, axis) if pick_first else jnp.mean(values, axis)
    return jnp.broadcast_to(jnp.expand_dims(tied, axis), values.shape)

  def tie_kernel(kernel, period, rows, columns, pick_first):
    *lead, height, width = kernel.shape
    kernel = kernel.reshape(*lead, height // period, period, width)
    head, inner, outer = kernel.shape[:-2], fold * rows, fold * columns
    block = kernel[..., :inner, :outer].reshape(*head, fold, rows, fold, columns)
    if pick_first:  # block[..., i, :, j, :] reads slot i, feeds slot j
      own, between = block[..., 0, :, 0, :], block[..., 0, :, 1, :]
    else:
      diagonal = sum(block[..., slot, :, slot, :] for slot in range(fold))
      own = diagonal / fold
      between = (jnp.sum(block, axis=(-4, -2)) - diagonal) / (fold * (fold - 1))
    tied = jnp.where(same_slot, own[..., None, :, None, :], between[..., None, :, None, :])
    # Leftover input channels feed every slot alike; every slot feeds a leftover channel alike.
    left_to_slots = tie_over(kernel[..., inner:, :outer].reshape(
        *head, period - inner, fold, columns), -2, pick_first)
    slots_to_left = tie_over(kernel[..., :inner, outer:].reshape(
        *head, fold, rows, width - outer), -3, pick_first)
    kernel = jnp.concatenate([
        jnp.concatenate([tied.reshape(*head, inner, outer),
                         slots_to_left.reshape(*head, inner, width - outer)], -1),
        jnp.concatenate([left_to_slots.reshape(*head, period - inner, outer),
                         kernel[..., inner:, outer:]], -1)], -2)
    return kernel.reshape(*lead, height, width)

  def tie_bias(bias, columns, pick_first):
    outer = fold * columns
    own = tie_over(bias[:outer].reshape(fold, columns), 0, pick_first).reshape(outer)
    return jnp.concatenate([own, bias[outer:]])

  def tie(tree, pick_first: bool = False):
    def tie_leaf(path, value):
      layer, name = path[1].key, path[2].key
      if path[0].key != "layers" or layer not in layouts:
        return value
      period, rows, columns = layouts[layer]
      value = jnp.asarray(value)
      if name == "kernel":
        return tie_kernel(value, period, rows, columns, pick_first)
      return tie_bias(value, columns, pick_first)

    return jax.tree_util.tree_map_with_path(tie_leaf, tree)

  return tie


def cross_slot_masks(folded_model: nnx.Module) -> nnx.State:
  """The model's parameters as booleans: True for each kernel weight between two slots (or out
  of a leftover channel), False inside a slot's block and for every bias. One mask serves the
  cross-slot ablation, the between-slot weight share and the between-slot learning rate."""
  _, params = nnx.split(folded_model)
  masks = jax.tree.map(lambda value: np.zeros(np.shape(value), bool), params)
  for position, in_slots, out_slots, _ in _layer_slots(folded_model):
    kernel = masks["layers"][folded_model.module_index[position]]["kernel"]
    kernel[...] = np.broadcast_to(_between_slots(in_slots, out_slots), kernel[...].shape)
  return masks


def is_block_diagonal(folded_model: nnx.Module) -> bool:
  """Whether every weight between slots (and out of a leftover channel) is exactly zero: the
  model computes f independent narrow CNNs."""
  for position, in_slots, out_slots, _ in _layer_slots(folded_model):
    kernel = np.asarray(folded_model.layers[folded_model.module_index[position]].kernel[...])
    if np.any(kernel[..., _between_slots(in_slots, out_slots)] != 0):
      return False
  return True


def without_cross_slot(params: nnx.State, masks: nnx.State) -> nnx.State:
  """The cross-slot ablation: `params` with every weight between slots set to zero."""
  return jax.tree.map(lambda value, mask: jnp.where(mask, jnp.zeros_like(value), value),
                      params, masks)


def cross_slot_weight_share(params: nnx.State, masks: nnx.State) -> float:
  """The share of the kernels' squared weight norm that lies between slots (0: block-diagonal)."""
  between = total = 0.0
  for value, mask in zip(jax.tree.leaves(params), jax.tree.leaves(masks), strict=True):
    if np.ndim(value) < 2:  # a bias
      continue
    squared = np.square(np.asarray(value, np.float64))
    between += float(squared[np.asarray(mask)].sum())
    total += float(squared.sum())
  return between / total if total else 0.0
