"""The class curriculum: train on the first I classes, add Δ more every E epochs until all K.

A pure function of the epoch, so a resumed run sees exactly the classes an uninterrupted one did.
"""

from __future__ import annotations


def classes_at_epoch(epoch: int, num_classes: int, initial: int, step: int, every: int) -> int:
  """Classes trained on during 0-based `epoch`: min(K, I + Δ·floor(epoch / E))."""
  if epoch < 0:
    raise ValueError(f"epoch must be >= 0, got {epoch}")
  if not 1 <= initial <= num_classes:
    raise ValueError(f"initial classes must be in [1, {num_classes}], got {initial}")
  if step < 1 or every < 1:
    raise ValueError(f"curriculum step ({step}) and period ({every}) must be >= 1")
  return min(num_classes, initial + step * (epoch // every))


def epoch_all_classes_seen(num_classes: int, initial: int, step: int, every: int) -> int:
  """The first 0-based epoch that trains on all `num_classes` classes."""
  missing = max(num_classes - initial, 0)
  return -(-missing // step) * every


def default_initial_classes(num_classes: int, fold: int) -> int:
  """The authors' I = max(K // 10, f), capped at K."""
  return min(num_classes, max(num_classes // 10, fold))


def default_step_classes(num_classes: int) -> int:
  """The authors' Δ = max(K // 10, 1)."""
  return max(num_classes // 10, 1)
