"""The training recipe: a config's run, or its warm start as three named phases.

A folded config with `warm_start.slot_epochs` != 0 trains in three phases:
  1. `train_slot_model`: an ordinary f = 1 run of the folded model's slot model
     (models/slots.slot_spec) in `<workdir>/slot_warm_start`;
  2. `embed`: its best checkpoint written into every slot of the folded model;
  3. the folded run itself, from the embedded model (its epoch 0), for `warm_start.folded_epochs`.
A folded run that resumes from a checkpoint skips phases 1 and 2. Every phase is one run of the
epoch loop (loop.train_run / loop.open_run) with its model spec given explicitly.
"""

from __future__ import annotations

import copy
import dataclasses
import os

from foldedcnn_jax.models import spec as spec_lib
from foldedcnn_jax.train import config as config_lib
from foldedcnn_jax.train import loop, saved_config

SLOT_WORKDIR = config_lib.SLOT_WORKDIR


@dataclasses.dataclass(frozen=True)
class SlotModelRun:
  """An f = 1 run of a folded config's slot model (models/slots.slot_spec), in its own workdir:
  the warm start's first phase, or (the accuracy table) the narrow twin trained alone."""

  config: object  # its own f = 1 config: the folded run's, with the fields the phase resets
  spec: spec_lib.ModelSpec

  def settings(self, workdir: str | None = None) -> config_lib.RunSettings:
    return config_lib.make_run_settings(self.config, workdir, spec=self.spec)


def slot_model_run(config, workdir: str, num_epochs: int | None = None) -> SlotModelRun:
  """The f = 1 run of `config`'s slot model in `workdir`, for `num_epochs` (default: the warm
  start's slot epochs), at the warm start's learning rate and head initialisation, and with the
  folded run's class curriculum when it has one."""
  from foldedcnn_jax.models import slots

  folded = config_lib.make_run_settings(config)  # checks the folded config first
  slot = copy.deepcopy(config)
  slot.fold = 1
  slot.num_epochs = num_epochs or config_lib.slot_epochs(config)
  slot.optimizer.learning_rate = (config.warm_start.learning_rate or
                                  config.optimizer.learning_rate)
  slot.model.zero_init_head = config.model.zero_init_head or config.warm_start.zero_init_head
  slot.update_from_flattened_dict(saved_config.FOLDED_ONLY_FIELDS)  # the slot model runs unfolded
  if folded.curriculum.enabled:  # the folded run's classes per epoch (I defaults to max(K/10, f))
    slot.curriculum.mode = "on"
    slot.curriculum.initial_classes = folded.curriculum.initial
    slot.curriculum.step_classes = folded.curriculum.step
    slot.curriculum.step_epochs = folded.curriculum.every
  # An f = 1 run has no groups to form: whatever the folded run's training grouping, its slot
  # model is the same run (and one trained slot model can seed runs of every grouping).
  slot.data.train_grouping = "independent"
  slot.workdir = workdir
  return SlotModelRun(slot, slots.slot_spec(folded.spec))


def train_and_evaluate(run, workdir: str | None = None) -> dict:
  """Trains (or resumes) `run` and returns a summary of its best epoch. `run` is a config (the
  recipe it describes: with a warm start, its three phases) or a SlotModelRun."""
  if isinstance(run, SlotModelRun):
    return loop.train_run(run.config, run.settings(workdir))
  settings = config_lib.make_run_settings(run, workdir)
  if not config_lib.warm_starts(run):
    return loop.train_run(run, settings)
  return train_folded(run, settings)


def train_slot_model(config, settings: config_lib.RunSettings) -> dict:
  """Phase 1: trains (or resumes, or just reads back) the slot model's run in its subfolder."""
  slot = slot_model_run(config, os.path.join(settings.workdir, SLOT_WORKDIR))
  loop.log(f"warm start: training the f=1 slot model for {slot.config.num_epochs} epochs in "
           f"{slot.config.workdir}")
  return loop.train_run(slot.config, slot.settings())


def embed(config, settings: config_lib.RunSettings, slot_workdir: str):
  """Phase 2: the folded model's parameters with the best slot model of `slot_workdir` in every
  slot (and `warm_start.cross_slot_init` times its initial weights between slots)."""
  from flax import nnx

  from foldedcnn_jax.models import slots
  from foldedcnn_jax.train import checkpoints as checkpoints_lib
  from foldedcnn_jax.train import trainer as trainer_lib

  best = checkpoints_lib.read_trained_model(slot_workdir)
  model = trainer_lib.initial_model(config, settings)
  slots.embed_slots(nnx.merge(best.graphdef, best.params), model,
                    cross_slot_scale=config.warm_start.cross_slot_init)
  trainer_lib.tie_start(config, model)
  return nnx.split(model)[1]


def train_folded(config, settings: config_lib.RunSettings) -> dict:
  """Phase 3, after phases 1 and 2 when no checkpoint is there to resume from: the folded run."""
  with loop.open_run(config, settings) as run:
    if run.fresh:
      slot = train_slot_model(config, settings)
      params = embed(config, settings, slot["workdir"])
      loop.log(f"warm start: embedded the slot model of epoch {slot['best_epoch']} (val acc "
               f"{slot['best_val_accuracy']:.4f}) into each of the {settings.fold} slots")
      record = run.start_from(params)
      loop.log(f"warm start: the folded model starts (epoch 0) at val acc "
               f"{record['val_accuracy']:.4f}, test acc {record['test_accuracy']:.4f}")
    return run.train()
