"""A block-diagonal FoldedCNN run as f grouped convolutions: the "slot_groups" formulation.

A folded model whose weights between slots are exactly zero (one written by
`models/slots.embed_slots`, with no folded epoch after it) computes f independent narrow CNNs,
one per slot. Run as grouped convolutions (`feature_group_count=f`) and batched dense layers,
it does 1/f of the folded model's multiply-adds and gives the same logits ("packed ensembles").
The channels left over when a width is not a multiple of f feed nothing in such a model, so
they are not computed. `is_block_diagonal` checks the weights; the formulation is offered and
compiled only where it holds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from foldedcnn_jax.models import slots


def is_block_diagonal(model) -> bool:
  """Whether every weight between slots (and from a leftover channel) is exactly zero
  (models/slots.is_block_diagonal), for a model the grouped layers can run.

  Only then do the grouped layers compute the model's logits. False at f = 1, for grouped
  convolutions, and for a first layer that is dense (its input rows are not slot blocks).
  """
  plan, fold = model.plan, model.spec.fold
  if fold == 1 or plan[0].kind != "conv" or any(
      layer.groups != 1 for layer in plan if layer.kind == "conv"):
    return False
  return slots.is_block_diagonal(model)


def _kernel_blocks(model, position: int) -> list[jax.Array]:
  """Slot g's diagonal block of plan layer `position`'s kernel, for each g: conv (kh, kw, block
  in, block out); dense (block rows, block out), after a flatten the rows (h, w, c) of slot g's
  channels."""
  fold, plan = model.spec.fold, model.plan
  layer = plan[position]
  kernel = model.layers[model.module_index[position]].kernel[...].astype(model.dtype)
  in_block = layer.in_channels // fold
  if layer.kind == "dense" and plan[position - 1].kind != "dense":  # rows: the (H, W, C) map
    kernel = kernel.reshape(*plan[position - 1].out_shape, kernel.shape[-1])
    in_block = plan[position - 1].out_shape[-1] // fold
  out_block = layer.out_channels // fold
  blocks = [kernel[..., g * in_block:(g + 1) * in_block, g * out_block:(g + 1) * out_block]
            for g in range(fold)]
  return [block.reshape(-1, out_block) for block in blocks] if layer.kind == "dense" else blocks


def run(model, x: jax.Array, pool, *, split: bool = False) -> jax.Array:
  """The logits of a block-diagonal `model` on prepared inputs `x` (N, H, W, f·C), slot by slot.

  `pool(x, kernel, stride)` runs a max pool. Grouped (`split` False): conv activations keep
  their f·block channels slot-major, as a grouped convolution reads and writes them; dense
  layers run on (N, f, features) with a batched product. Split: each slot's activations are a
  tensor of their own through ordinary convolutions and products (f narrow programs in one).
  """
  fold = model.spec.fold
  parts = list(jnp.split(x, fold, axis=-1)) if split else [x]
  for position, layer in enumerate(model.plan):
    if layer.kind == "pool":
      parts = [pool(part, layer.kernel, layer.stride) for part in parts]
      continue
    blocks = _kernel_blocks(model, position)
    bias = model.layers[model.module_index[position]].bias[...].astype(model.dtype)
    biases = jnp.split(bias[:fold * (layer.out_channels // fold)], fold)
    if split:
      parts = [_apply(layer.kind, part, block, layer.stride, 1) + part_bias
               for part, block, part_bias in zip(parts, blocks, biases, strict=True)]
    elif layer.kind == "conv":
      parts = [_apply("conv", parts[0], jnp.concatenate(blocks, axis=-1), layer.stride, fold)
               + jnp.concatenate(biases)]
    else:
      grouped = parts[0]
      if grouped.ndim == 4:  # (N, H, W, f·block) → (N, f, H·W·block), each slot's (h, w, c)
        count, height, width, channels = grouped.shape
        grouped = grouped.reshape(count, height, width, fold, channels // fold).transpose(
            0, 3, 1, 2, 4).reshape(count, fold, -1)
      parts = [jnp.einsum("ngi,gio->ngo", grouped.astype(model.dtype), jnp.stack(blocks))
               + jnp.stack(biases)]
    if layer.is_output:
      return jnp.concatenate(parts, axis=-1) if split else parts[0].reshape(len(x), -1)
    parts = [jax.nn.relu(part) for part in parts]
  raise ValueError("the plan ends without an output layer")


def _apply(kind: str, x: jax.Array, kernel: jax.Array, stride: int, groups: int) -> jax.Array:
  """A conv (SAME, NHWC, `groups` groups) or a dense product of one block, without bias."""
  if kind == "dense":
    return x.reshape(x.shape[0], -1).astype(kernel.dtype) @ kernel
  return jax.lax.conv_general_dilated(
      x.astype(kernel.dtype), kernel, (stride, stride), "SAME",
      dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)
