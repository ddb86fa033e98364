r"""Steady-state training throughput (images/s, compile excluded) of the device-resident engine,
the streaming (grain) fallback and, when torch is installed, an authors-style PyTorch loop.

  python -m experiments.benchmark_train --tasks=n2,v1 --folds=1,4 \
      --out=results/cpu/train_throughput.csv

Game tasks train on `--scale` × the paper's dataset (generated on first use). The engines take
turns, one epoch per trial, so a busy machine slows all of them alike; the median is reported.
"""

from __future__ import annotations

from absl import flags, logging

from foldedcnn_jax import cli

_TASKS = flags.DEFINE_list("tasks", ["n2", "v1"], "Task ids.")
_FOLDS = flags.DEFINE_list("folds", ["1", "4"], "Fold factors.")
_SCALE = flags.DEFINE_float("scale", 0.05, "Dataset scale of game tasks (NoScope: the default "
                            "scene video).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Images per step.")
_TRIALS = flags.DEFINE_integer("trials", 5, "Timed epochs per engine.")
_TORCH = flags.DEFINE_bool("torch", True, "Also time the PyTorch loop (skipped without torch).")
_AUGMENT = flags.DEFINE_bool("augment", True, "The recipe's in-graph augmentation (random "
                             "shifts, mirroring); --noaugment matches the PyTorch loop's work.")
_OUT = flags.DEFINE_string("out", "", "CSV to write ('' = print only).")
_NOTE = flags.DEFINE_string("note", "", "A line written at the top of the CSV.")


def task_config(task_id: str, fold: int, scale: float | None, batch_size: int,
                augment: bool = True):
  """The task's training config (its family's recipe) at `fold`, `scale` and `batch_size`.

  `augment=False` turns the recipe's random shifts and mirroring off: the same work per step as
  the authors' PyTorch loop, which augments nothing.
  """
  from configs import base
  from foldedcnn_jax import tasks

  task = tasks.get_task(task_id)
  config = base.task_config(task_id, family=task.family, quick_epochs=1, quick_scale=1.0)
  config.fold, config.batch_size = fold, batch_size
  if scale is not None and task.family == "game":
    config.data.scale = scale
  if not augment:
    config.augment.shift, config.augment.flip = 0, False
  return config


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)
  from foldedcnn_jax.train import throughput

  try:
    folds = [int(fold) for fold in _FOLDS.value]
  except ValueError:
    cli.fail(f"--folds must be integers, got {','.join(_FOLDS.value)}")
  measurements = []
  for task in _TASKS.value:
    for fold in folds:
      config = task_config(task, fold, _SCALE.value, _BATCH_SIZE.value,
                                      augment=_AUGMENT.value)
      for row in throughput.measure(config, torch_peer=_TORCH.value, trials=_TRIALS.value):
        measurements.append(row)
        print(f"{row.task} f={row.fold} {row.engine:6s} {row.images_per_second:8.0f} images/s "
              f"(trials {', '.join(f'{value:.0f}' for value in row.trials)}; "
              f"{row.train_images} images/epoch, {row.device})", flush=True)
      if _OUT.value:
        throughput.write_csv(measurements, _OUT.value, _NOTE.value)


if __name__ == "__main__":
  cli.run(main)
