"""Per-epoch records: one JSON line each in `workdir/metrics.jsonl`, mirrored to TensorBoard.

Lines are appended with a single write, and a resumed run first drops every line past its
checkpoint (atomically: temp file, then rename), so the file never holds an epoch twice.
"""

from __future__ import annotations

import json
import math
import os

from foldedcnn_jax import files

METRICS_FILE = "metrics.jsonl"
# Timing fields differ between otherwise identical runs; everything else is deterministic.
TIMING_FIELDS = ("images_per_second", "epoch_seconds", "eval_seconds")


def read_metrics(workdir: str) -> list[dict]:
  """The complete records of `workdir/metrics.jsonl` (a torn last line is ignored)."""
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  records = []
  with open(path) as file:
    for line in file:
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        continue
  return records


def summarize(sums: dict[str, float], prefix: str, num_classes_seen: int | None = None,
              top_k: int = 5) -> dict[str, float]:
  """Summed step metrics → mean loss and accuracies under `prefix` (train/val/test)."""
  count = max(sums["count"], 1.0)
  record = {f"{prefix}_loss": sums["loss_sum"] / count,
            f"{prefix}_accuracy": sums["correct"] / count}
  if "cross_entropy_sum" in sums:
    record[f"{prefix}_cross_entropy"] = sums["cross_entropy_sum"] / count
  if "correct_top_k" in sums:
    record[f"{prefix}_top{top_k}_accuracy"] = sums["correct_top_k"] / count
  if "correct_seen" in sums and num_classes_seen is not None:
    record[f"{prefix}_accuracy_seen"] = sums["correct_seen"] / max(sums["count_seen"], 1.0)
  return record


def is_finite(value) -> bool:
  return not isinstance(value, float) or math.isfinite(value)


class MetricsWriter:
  """Appends epoch records to metrics.jsonl and TensorBoard (process 0 only writes)."""

  def __init__(self, workdir: str, *, resume_epoch: int, tensorboard: bool, enabled: bool = True):
    self.path = os.path.join(workdir, METRICS_FILE)
    self.enabled = enabled
    self.summary_writer = None
    if not enabled:
      return
    self._truncate_after(resume_epoch)
    if tensorboard:
      import tensorboardX  # loads only when TensorBoard output is asked for

      # purge_step hides events a killed run logged past the checkpoint it resumes from.
      self.summary_writer = tensorboardX.SummaryWriter(
          os.path.join(workdir, "tensorboard"), purge_step=resume_epoch + 1)

  def _truncate_after(self, epoch: int) -> None:
    kept = [record for record in read_metrics(os.path.dirname(self.path))
            if record.get("epoch", 0) <= epoch]
    with files.atomic_path(self.path) as temporary, open(temporary, "w") as file:
      file.writelines(json.dumps(record, sort_keys=True) + "\n" for record in kept)

  def write(self, record: dict) -> None:
    if not self.enabled:
      return
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
      os.write(descriptor, line)
    finally:
      os.close(descriptor)
    if self.summary_writer is not None:
      for key, value in record.items():
        if key != "epoch" and isinstance(value, int | float):
          self.summary_writer.add_scalar(key, value, record["epoch"])
      self.summary_writer.flush()

  def close(self) -> None:
    if self.summary_writer is not None:
      self.summary_writer.close()
