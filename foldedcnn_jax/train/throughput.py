"""Steady-state training throughput of the two data paths (and an authors-style PyTorch loop).

Each engine first trains one epoch (compilation, caches), then the engines take turns, one timed
trial of `epochs_per_trial` epochs each, so a shared machine slows them alike; the median trial
is reported. Images/s counts the images trained on (batch 32 by default), compile excluded.
"""

from __future__ import annotations

import dataclasses
import statistics

import jax
import numpy as np

from foldedcnn_jax.bench import timing
from foldedcnn_jax.train import config as config_lib
from foldedcnn_jax.train import trainer as trainer_lib

TORCH = "torch"


@dataclasses.dataclass(frozen=True)
class Measurement:
  task: str
  fold: int
  engine: str  # device | stream | torch
  batch_size: int
  train_images: int  # per epoch
  images_per_second: float  # median trial
  trials: tuple[float, ...]
  device: str


def _trainer(config, engine: str):
  config = config.copy_and_resolve_references()
  config.data.engine, config.progress = engine, False
  return trainer_lib.build(config, config_lib.make_run_settings(config, "/nonexistent-workdir"))


class _JaxRun:
  """One engine's trainer and state, advanced epoch by epoch."""

  def __init__(self, config, engine: str):
    self.trainer, self.state = _trainer(config, engine)
    self.epoch = 0

  def epoch_images(self) -> tuple[float, int]:
    """(seconds, images) of one training epoch, synchronised at its end."""
    count, seconds = timing.time_once(self._train_epoch)
    return seconds, count

  def _train_epoch(self) -> int:
    trainer = self.trainer
    self.state, sums = trainer.train_epoch(self.state, self.epoch, trainer.settings.num_classes)
    jax.block_until_ready(self.state)
    self.epoch += 1
    return int(sums["count"])


class _TorchRun:
  """The authors' loop: the split in memory as a tensor, Adam, one minibatch per step."""

  def __init__(self, config, settings: config_lib.RunSettings, images: np.ndarray,
               labels: np.ndarray):
    import torch

    from foldedcnn_jax.bench import torch_reference

    torch.manual_seed(0)
    self.torch, self.fold, self.batch_size = torch, settings.fold, settings.batch_size
    self.num_classes = settings.num_classes
    self.model = torch_reference.build(settings.spec)
    self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.optimizer.learning_rate)
    folded = images.reshape(-1, settings.fold, *images.shape[1:])  # (N/f, f, H, W, C)
    self.images = torch.from_numpy(np.ascontiguousarray(
        folded.transpose(0, 1, 4, 2, 3).reshape(len(folded), -1, *images.shape[1:3])))
    self.labels = torch.from_numpy(labels[:len(folded) * settings.fold].astype(np.int64))
    self.labels = self.labels.reshape(len(folded), settings.fold)

  def epoch_images(self) -> tuple[float, int]:
    """(seconds, images) of one training epoch."""
    count, seconds = timing.time_once(self._train_epoch)
    return seconds, count

  def _train_epoch(self) -> int:
    torch, groups = self.torch, self.batch_size // self.fold
    order = torch.randperm(len(self.images))
    count = 0
    for start in range(0, len(order) - groups + 1, groups):
      rows = order[start:start + groups]
      logits = self.model(self.images[rows].float()).reshape(-1, self.num_classes)
      loss = torch.nn.functional.cross_entropy(logits, self.labels[rows].reshape(-1))
      self.optimizer.zero_grad()
      loss.backward()
      self.optimizer.step()
      count += groups * self.fold
    return count


def measure(config, *, engines=config_lib.ENGINES, torch_peer: bool = True, trials: int = 5,
            epochs_per_trial: int = 1) -> list[Measurement]:
  """Interleaved steady-state trials of each engine on `config` (task, fold, batch size)."""
  runs = {engine: _JaxRun(config, engine) for engine in engines}
  if torch_peer:
    from foldedcnn_jax.bench import torch_reference

    if torch_reference.available():
      trainer = next(iter(runs.values())).trainer
      from foldedcnn_jax.data import pipeline

      images, labels = pipeline.read_records(
          trainer.dataset.location, "train", np.arange(trainer.dataset.size("train")),
          trainer.dataset.image_shape)
      runs[TORCH] = _TorchRun(config, trainer.settings, images, labels)
  for run in runs.values():
    run.epoch_images()  # compile and warm up
  timings: dict[str, list[float]] = {engine: [] for engine in runs}
  images: dict[str, int] = {}
  for _ in range(trials):
    for engine, run in runs.items():
      seconds, count = 0.0, 0
      for _ in range(epochs_per_trial):
        trial_seconds, trial_images = run.epoch_images()
        seconds, count = seconds + trial_seconds, count + trial_images
      timings[engine].append(count / seconds)
      images[engine] = count // epochs_per_trial
  device = jax.devices()[0].device_kind
  batch_size = config.batch_size // config.fold * config.fold
  return [Measurement(config.task, config.fold, engine, batch_size, images[engine],
                      statistics.median(values), tuple(values), device)
          for engine, values in timings.items()]


FIELDS = ("task", "fold", "engine", "batch_size", "train_images", "images_per_second", "trials",
          "device")


def write_csv(measurements: list[Measurement], path: str, note: str = "") -> None:
  """The measurements as CSV (trials joined by ';'), with an optional leading `# note` line."""
  import csv
  import os

  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", newline="") as file:
    if note:
      file.write(f"# {note}\n")
    writer = csv.writer(file)
    writer.writerow(FIELDS)
    for measurement in measurements:
      row = dataclasses.asdict(measurement)
      row["images_per_second"] = f"{measurement.images_per_second:.1f}"
      row["trials"] = ";".join(f"{value:.1f}" for value in measurement.trials)
      writer.writerow([row[field] for field in FIELDS])
