"""How folded groups are formed: training groupings (independent, consecutive, mix) and
evaluation groupings (permuted, consecutive, strided), on tiny synthetic sequences."""

import numpy as np
import pytest

from foldedcnn_jax.data import pipeline
from foldedcnn_jax.data.common import DatasetError, TrainGroups
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.runtime import grouping


def _order(labels, seed=0, epoch=0, num_classes=None, batch_size=0, **groups):
  return pipeline.epoch_order(labels, task_classes=2, seed=seed, epoch=epoch,
                              num_classes=num_classes, groups=TrainGroups(**groups),
                              batch_size=batch_size)


def test_consecutive_training_groups_are_aligned_runs_of_f_records():
  labels = np.zeros(23, np.int32)
  order = _order(labels, fold=4, grouping="consecutive")
  assert sorted(order.tolist()) == list(range(23))  # every record once
  groups = order[:20].reshape(5, 4)
  assert all((np.diff(group) == 1).all() for group in groups)
  starts = sorted(int(group[0]) for group in groups)
  offset = starts[0]
  assert starts == list(range(offset, offset + 20, 4))  # blocks cut at one offset
  assert len(set(order[20:].tolist()) | set(range(offset)) | set(range(offset + 20, 23))) == 3


def test_training_groupings_are_pure_functions_of_seed_and_epoch():
  labels = np.zeros(40, np.int32)
  for kind in ("independent", "consecutive", "mix"):
    same = _order(labels, fold=4, grouping=kind, epoch=3)
    np.testing.assert_array_equal(same, _order(labels, fold=4, grouping=kind, epoch=3))
    assert not np.array_equal(same, _order(labels, fold=4, grouping=kind, epoch=4))
    assert not np.array_equal(same, _order(labels, fold=4, grouping=kind, epoch=3, seed=1))


def test_mix_makes_about_the_asked_share_of_groups_consecutive():
  labels = np.zeros(4000, np.int32)
  order = _order(labels, fold=4, grouping="mix", consecutive_share=0.25)
  assert sorted(order.tolist()) == list(range(4000))
  groups = order[:len(order) // 4 * 4].reshape(-1, 4)
  share = np.mean([(np.diff(group) == 1).all() for group in groups])
  assert 0.2 < share < 0.3
  none = _order(labels, fold=4, grouping="mix", consecutive_share=0.0)
  groups = none.reshape(-1, 4)
  assert np.mean([(np.diff(group) == 1).all() for group in groups]) < 0.01


def test_fold_one_and_independent_grouping_are_the_plain_shuffle():
  labels = np.zeros(30, np.int32)
  plain = _order(labels)
  np.testing.assert_array_equal(plain, _order(labels, fold=1, grouping="consecutive"))
  np.testing.assert_array_equal(plain, _order(labels, fold=3, grouping="independent"))


def test_consecutive_grouping_respects_the_curriculum_subset():
  labels = np.array([0, 1] * 10, np.int32)
  order = _order(labels, fold=2, grouping="consecutive", num_classes=1)
  assert sorted(order.tolist()) == list(range(0, 20, 2))


def test_eval_groupings_hold_the_expected_records():
  np.testing.assert_array_equal(grouping.group_order(7, grouping="consecutive", fold=3),
                                np.arange(7))
  # strided: group g = (g, g + n/f, g + 2n/f); the ragged tail (record 6) last.
  np.testing.assert_array_equal(grouping.group_order(7, grouping="strided", fold=3),
                                [0, 2, 4, 1, 3, 5, 6])
  np.testing.assert_array_equal(grouping.group_order(7, grouping="permuted", fold=3, seed=19),
                                grouping.fixed_permutation(7, 19))
  np.testing.assert_array_equal(grouping.group_order(5, grouping="strided", fold=1),
                                np.arange(5))


def test_unknown_groupings_are_named():
  with pytest.raises(DatasetError, match="unknown training grouping 'pairs'"):
    _order(np.zeros(8, np.int32), fold=2, grouping="pairs")
  with pytest.raises(UserInputError, match="unknown grouping 'pairs'"):
    grouping.group_order(8, grouping="pairs", fold=2)


def test_batch_repetition_follows_each_batch_with_shuffles_of_itself():
  labels = np.zeros(100, np.int32)
  plain = _order(labels, fold=4)
  repeated = _order(labels, fold=4, batch_repetition=3, batch_size=8)
  batches = pipeline.epoch_batches(labels, task_classes=2, seed=0, epoch=0, batch_size=8,
                                   groups=TrainGroups(fold=4, batch_repetition=3))
  assert batches.indices.shape == (12, 24) and batches.mask.all()  # 100 // 8 batches of 3 × 8
  for row, batch in enumerate(batches.indices):
    original = plain[row * 8:(row + 1) * 8]  # the shuffle itself is unchanged
    np.testing.assert_array_equal(batch[:8], original)
    for copy in (batch[8:16], batch[16:]):  # each copy holds the batch's images once more
      assert sorted(copy.tolist()) == sorted(original.tolist())
    assert not np.array_equal(batch[8:16], original)  # in other groups and slots
  np.testing.assert_array_equal(repeated[:len(batches.indices.ravel())], batches.indices.ravel())
  np.testing.assert_array_equal(repeated, _order(labels, fold=4, batch_repetition=3,
                                                 batch_size=8))  # a pure function
  assert len(repeated) == 12 * 24 + 4  # the last partial batch (4 images) is not repeated
  with_rho = pipeline.epoch_batches(labels, task_classes=2, seed=0, epoch=0, batch_size=8,
                                    groups=TrainGroups(fold=4, batch_repetition=3,
                                                       input_repetition=1.0))
  groups = with_rho.indices.reshape(-1, 4)  # input repetition applies to the repeated batches
  assert (groups == groups[:, :1]).all()
  with pytest.raises(DatasetError, match="batch repetition reshuffles"):
    TrainGroups(fold=4, grouping="consecutive", batch_repetition=2)
  with pytest.raises(DatasetError, match="integer >= 1"):
    TrainGroups(fold=4, batch_repetition=0)
