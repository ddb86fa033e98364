"""Slot-wise warm start: the folded model computes f exact copies of the narrow slot model."""

import jax
import numpy as np
import pytest
from flax import nnx

from foldedcnn_jax.models import ModelSpec, create_model, slots
from foldedcnn_jax.runtime import folding


@pytest.mark.parametrize("task, fold", [("v1", 2), ("v1", 3), ("v1", 4), ("v4", 4), ("n2", 4),
                                        ("n3", 3), ("tiny", 2)])
def test_embedded_folded_model_is_f_copies_of_the_slot_model(task, fold):
  spec = ModelSpec.for_task(task, fold=fold)
  narrow_spec = slots.slot_spec(spec)
  assert narrow_spec.fold == 1
  for narrow, wide in zip(narrow_spec.plan(), spec.plan(), strict=True):
    assert narrow.kind == wide.kind
    if narrow.kind != "pool" and not wide.is_output:
      assert narrow.out_channels == wide.out_channels // fold
  assert narrow_spec.num_classes == spec.num_classes
  narrow_model = create_model(narrow_spec, seed=1)
  folded_model = create_model(spec, seed=2)
  slots.embed_slots(narrow_model, folded_model)
  images = np.random.default_rng(0).integers(0, 256, (3 * fold, *spec.input_shape), np.uint8)
  expected = np.asarray(narrow_model(images))
  got = np.asarray(folded_model(folding.fold(images, fold))).reshape(-1, spec.num_classes)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
  # Each slot reads only its own image: changing another slot's image leaves its logits alone.
  changed = images.copy()
  changed[1::fold] = 255 - changed[1::fold]
  again = np.asarray(folded_model(folding.fold(changed, fold))).reshape(-1, spec.num_classes)
  np.testing.assert_allclose(again[0::fold], expected[0::fold], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("task, fold", [("v1", 3), ("n2", 4)])
def test_a_sequence_of_slot_models_puts_model_j_into_slot_j(task, fold):
  spec = ModelSpec.for_task(task, fold=fold)
  narrow_models = [create_model(slots.slot_spec(spec), seed=10 + slot) for slot in range(fold)]
  folded_model = create_model(spec, seed=2)
  slots.embed_slots(narrow_models, folded_model)
  images = np.random.default_rng(0).integers(0, 256, (2 * fold, *spec.input_shape), np.uint8)
  got = np.asarray(folded_model(folding.fold(images, fold))).reshape(-1, spec.num_classes)
  for slot, narrow in enumerate(narrow_models):
    np.testing.assert_allclose(got[slot::fold], np.asarray(narrow(images[slot::fold])),
                               rtol=1e-4, atol=1e-4)
  with pytest.raises(slots.ArchitectureError, match="slot models"):
    slots.embed_slots(narrow_models[:-1], folded_model)


def test_leftover_channels_keep_random_weights_and_feed_nothing():
  spec = ModelSpec.for_task("v1", fold=3)  # int(32·√3) = 55 = 3·18 + 1 leftover channel
  folded_model = create_model(spec, seed=2)
  slots.embed_slots(create_model(slots.slot_spec(spec), seed=1), folded_model)
  first, second = folded_model.layers[0].kernel[...], folded_model.layers[1].kernel[...]
  assert first.shape[-1] == 55
  assert np.abs(np.asarray(first[..., 54])).sum() > 0  # its incoming weights stay random
  assert np.abs(np.asarray(second[..., 54, :])).sum() == 0  # and nothing reads it yet
  # Off-diagonal blocks start at zero: slot 0's outputs read no channel of slot 1.
  assert np.abs(np.asarray(second[..., 18:36, :18])).sum() == 0


def test_wrong_slot_model_is_refused():
  spec = ModelSpec.for_task("v1", fold=4)
  with pytest.raises(ValueError, match="slot_spec"):
    slots.embed_slots(create_model(ModelSpec.for_task("v1", fold=1)), create_model(spec))


@pytest.mark.parametrize("task, fold", [("v1", 3), ("n2", 4), ("tiny", 2)])
def test_cross_slot_masks_ablate_exactly_the_connections_between_slots(task, fold):
  spec = ModelSpec.for_task(task, fold=fold)
  narrow_model = create_model(slots.slot_spec(spec), seed=1)
  embedded, connected = create_model(spec, seed=2), create_model(spec, seed=2)
  slots.embed_slots(narrow_model, embedded)
  slots.embed_slots(narrow_model, connected, cross_slot_scale=0.3)
  masks = slots.cross_slot_masks(embedded)
  _, embedded_params = nnx.split(embedded)
  graphdef, connected_params = nnx.split(connected)
  assert slots.cross_slot_weight_share(embedded_params, masks) == 0.0
  assert slots.is_block_diagonal(embedded) and not slots.is_block_diagonal(connected)
  share = slots.cross_slot_weight_share(connected_params, masks)
  assert 0.0 < share < 1.0
  images = np.random.default_rng(0).integers(0, 256, (2 * fold, *spec.input_shape), np.uint8)
  folded = folding.fold(images, fold)
  # Connected slots compute something else; without their cross-slot weights, the twin again.
  assert np.abs(np.asarray(connected(folded)) - np.asarray(embedded(folded))).max() > 1e-3
  ablated = nnx.merge(graphdef, slots.without_cross_slot(connected_params, masks))
  np.testing.assert_allclose(np.asarray(ablated(folded)), np.asarray(embedded(folded)),
                             rtol=1e-5, atol=1e-5)


def _permutes_logits(model, spec, fold, groups=2):
  """Max |logits of the images rolled one slot within each group − the rolled logits|."""
  images = np.random.default_rng(0).integers(0, 256, (groups * fold, *spec.input_shape),
                                             np.uint8)
  rolled = np.concatenate([np.roll(np.arange(fold), 1) + g * fold for g in range(groups)])
  logits = np.asarray(model(folding.fold(images, fold))).reshape(groups * fold, -1)
  again = np.asarray(model(folding.fold(images[rolled], fold))).reshape(groups * fold, -1)
  return float(np.abs(again - logits[rolled]).max())


@pytest.mark.parametrize("task, fold", [("v1", 3), ("v1", 4), ("n2", 2)])
def test_tied_slots_make_the_folded_model_slot_equivariant(task, fold):
  """slot_tying: after tying (v1 f = 3 has a leftover channel), permuting a group's images
  permutes their logits; a dense random model does not; tying is idempotent and averages."""
  spec = ModelSpec.for_task(task, fold=fold)
  model = create_model(spec, seed=3)
  tie = slots.slot_tying(model)
  assert _permutes_logits(model, spec, fold) > 1e-3
  graphdef, params = nnx.split(model)
  tied = tie(params, pick_first=True)
  assert _permutes_logits(nnx.merge(graphdef, tied), spec, fold) < 1e-5
  averaged = tie(params)
  assert _permutes_logits(nnx.merge(graphdef, averaged), spec, fold) < 1e-5
  for once, twice in zip(jax.tree.leaves(averaged), jax.tree.leaves(tie(averaged)), strict=True):
    np.testing.assert_allclose(np.asarray(twice), np.asarray(once), atol=1e-6)
  # The mean of slot 0's own block over the slots, as drawn.
  kernel = np.asarray(params["layers"][0]["kernel"][...])
  channels, block = spec.input_shape[-1], model.plan[0].out_channels // fold
  own = np.mean([kernel[..., s * channels:(s + 1) * channels, s * block:(s + 1) * block]
                 for s in range(fold)], axis=0)
  np.testing.assert_allclose(np.asarray(averaged["layers"][0]["kernel"][...])[
      ..., :channels, :block], own, atol=1e-6)
  # A block between slots: the mean of the blocks over the ordered pairs of different slots.
  hidden = np.asarray(params["layers"][1]["kernel"][...])
  layer = model.plan[model.module_index.index(1)]
  rows, columns = layer.in_channels // fold, layer.out_channels // fold
  pairs = [hidden[..., i * rows:(i + 1) * rows, j * columns:(j + 1) * columns]
           for i in range(fold) for j in range(fold) if i != j]
  np.testing.assert_allclose(np.asarray(averaged["layers"][1]["kernel"][...])[
      ..., rows:2 * rows, :columns], np.mean(pairs, axis=0), atol=1e-6)
  with pytest.raises(slots.ArchitectureError, match="f > 1"):
    slots.slot_tying(create_model(ModelSpec.for_task(task, fold=1)))
