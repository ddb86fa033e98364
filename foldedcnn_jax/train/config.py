"""Checks a training config after command-line overrides and derives what the loop needs.

Every mistake is one `ConfigError` line naming the field, so `--config.fold=0` fails before any
data is generated or any JAX computation starts.
"""

from __future__ import annotations

import dataclasses
import os

from foldedcnn_jax import tasks as tasks_lib
from foldedcnn_jax.data import common as data_common
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import spec as spec_lib
from foldedcnn_jax.train import curriculum as curriculum_lib

OPTIMIZERS = ("adam", "rmsprop", "sgd")
DTYPE_NAMES = ("float32", "bfloat16", "float16")
CURRICULUM_MODES = ("auto", "on", "off")
DISTILLATION_LOSSES = ("mse", "kl")
TRAINABLE_FAMILIES = ("game", "noscope", "toy")
ENGINES = ("device", "stream")  # the two data paths (train/feeds.py); data.engine adds "auto"
SLOT_WORKDIR = "slot_warm_start"  # a folded run's warm-start (slot model) run, inside its workdir
SCHEDULES = ("constant", "cosine")
SLOT_INITS = ("folded", "twin")  # model.slot_init: a folded random start's in-slot weights
# model.formulation's values: "auto", the model's own layers, or an execution formulation.
FORMULATION_SETTINGS = ("auto", "model", "sliced_pool")


class ConfigError(UserInputError):
  """A config field with a bad value (reported as one line, exit code 2 in the CLI)."""


@dataclasses.dataclass(frozen=True)
class Curriculum:
  enabled: bool
  initial: int
  step: int
  every: int

  def classes_at(self, epoch: int, num_classes: int) -> int:
    if not self.enabled:
      return num_classes
    return curriculum_lib.classes_at_epoch(epoch, num_classes, self.initial, self.step, self.every)


@dataclasses.dataclass(frozen=True)
class RunSettings:
  """A checked config, resolved: task, model spec, batch sizes, workdir, curriculum."""

  task: tasks_lib.Task
  spec: spec_lib.ModelSpec
  fold: int
  batch_size: int  # images per step, a multiple of fold
  eval_batch_size: int
  num_epochs: int
  workdir: str
  curriculum: Curriculum
  source: data_common.Source  # which data (config.data) for foldedcnn_jax.data

  @property
  def num_classes(self) -> int:
    return self.task.num_classes


def _require(condition: bool, message: str) -> None:
  if not condition:
    raise ConfigError(message)


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _choice(value, field: str, choices: tuple[str, ...]) -> None:
  _require(value in choices, f"config.{field}={value!r} is not one of: {', '.join(choices)}")


def default_workdir(config) -> str:
  suffix = f"_{config.variant}" if config.variant else ""
  return os.path.join("runs", config.task, f"f{config.fold}{suffix}")


def _check_task(config) -> tasks_lib.Task:
  try:
    task = tasks_lib.get_task(config.task)
  except tasks_lib.UnknownTaskError as error:
    raise ConfigError(f"config.task: {error}") from None
  _require(task.family in TRAINABLE_FAMILIES and not task.benchmark_only,
           f"config.task={task.id!r} is a benchmark-only task with no training data")
  return task


def _check_run(config) -> None:
  """The top-level fields: fold, epochs, batch sizes, steps, evaluation, loss, augmentation."""
  _require(_is_int(config.fold) and config.fold >= 1,
           f"config.fold must be an integer >= 1, got {config.fold!r}")
  _require(_is_int(config.num_epochs) and config.num_epochs >= 1,
           f"config.num_epochs must be >= 1, got {config.num_epochs!r}")
  for field in ("batch_size", "eval_batch_size"):
    value = config[field]
    _require(_is_int(value) and value >= config.fold,
             f"config.{field}={value!r} must be an integer >= fold ({config.fold}): a step needs "
             "at least one whole group of fold images")
  _require(_is_int(config.steps_per_call) and config.steps_per_call >= 0,
           f"config.steps_per_call must be an integer >= 0 (0 = auto), got "
           f"{config.steps_per_call!r}")
  _require(_is_int(config.eval_permutation_seed) and config.eval_permutation_seed >= -1,
           f"config.eval_permutation_seed must be >= 0, or -1 for record order, got "
           f"{config.eval_permutation_seed!r}")
  _require(_is_int(config.profile_epoch) and config.profile_epoch >= 0,
           f"config.profile_epoch must be >= 0 (0 = off), got {config.profile_epoch!r}")
  _require(0 <= config.label_smoothing < 1,
           f"config.label_smoothing must be in [0, 1), got {config.label_smoothing}")
  _require(_is_int(config.augment.shift) and config.augment.shift >= 0,
           f"config.augment.shift must be an integer >= 0 (pixels), got {config.augment.shift!r}")


def _check_optimizer(config) -> None:
  optimizer = config.optimizer
  _choice(optimizer.name, "optimizer.name", OPTIMIZERS)
  _require(optimizer.learning_rate > 0,
           f"config.optimizer.learning_rate must be > 0, got {optimizer.learning_rate}")
  _require(optimizer.weight_decay >= 0,
           f"config.optimizer.weight_decay must be >= 0, got {optimizer.weight_decay}")
  _require(0 <= optimizer.momentum < 1,
           f"config.optimizer.momentum must be in [0, 1), got {optimizer.momentum}")
  _require(0 < optimizer.rmsprop_decay < 1,
           f"config.optimizer.rmsprop_decay must be in (0, 1), got {optimizer.rmsprop_decay}")
  _require(optimizer.eps > 0, f"config.optimizer.eps must be > 0, got {optimizer.eps}")
  _choice(optimizer.schedule, "optimizer.schedule", SCHEDULES)
  _require(0 <= optimizer.warmup_fraction < 1,
           f"config.optimizer.warmup_fraction must be in [0, 1), got {optimizer.warmup_fraction}")
  _require(0 <= optimizer.ema_decay < 1,
           f"config.optimizer.ema_decay must be in [0, 1) (0 = off), got {optimizer.ema_decay}")
  _require(optimizer.cross_slot_lr_scale >= 0,
           f"config.optimizer.cross_slot_lr_scale must be >= 0, got "
           f"{optimizer.cross_slot_lr_scale}")


def optimizer_config(config):
  """`config.optimizer`, at the warm start's folded learning rate when the run warm-starts."""
  optimizer = config.optimizer
  if warm_starts(config) and config.warm_start.folded_learning_rate:
    optimizer = optimizer.copy_and_resolve_references()
    optimizer.learning_rate = config.warm_start.folded_learning_rate
  return optimizer


def _check_model(config) -> None:
  model = config.model
  _require(model.width_multiplier >= 0,
           f"config.model.width_multiplier must be >= 0 (0 = sqrt(fold)), got "
           f"{model.width_multiplier}")
  _choice(model.param_dtype, "model.param_dtype", DTYPE_NAMES)
  _choice(model.dtype, "model.dtype", DTYPE_NAMES)
  from foldedcnn_jax.models.cnn import INITS  # flax loads only when settings are made

  _choice(model.init, "model.init", tuple(INITS))
  _require(model.cross_slot_init >= 0,
           f"config.model.cross_slot_init must be >= 0, got {model.cross_slot_init}")
  _choice(model.slot_init, "model.slot_init", SLOT_INITS)
  for field in ("dtype", "param_dtype"):
    _require(model[field] != "float16",
             f"config.model.{field}=float16 cannot train: float16 gradients underflow without "
             "loss scaling, which this trainer does not do; train in bfloat16 or float32 "
             "(inference in float16 works on any trained model)")
  _choice(model.formulation, "model.formulation", FORMULATION_SETTINGS)
  resolve_compiler_options(model.compiler_options, "cpu")  # "key=value,…" or an error


def resolve_formulation(name: str, backend: str) -> str:
  """The `execution.FORMULATIONS` entry a run uses: "auto" slices max pools on CPU (measured
  faster there for every task's train step), and keeps the model's pools elsewhere."""
  if name == "auto":
    return "sliced_pool" if backend == "cpu" else ""
  return "" if name == "model" else name


def resolve_compiler_options(text: str, backend: str) -> dict:
  """The XLA options a run compiles its train and eval steps with.

  "auto": on a CPU with XLA:CPU's YNNPACK fusions off (convolutions to Eigen; the train step
  measured 5-44 % faster on n2 and v1 at f = 1 and 4, results/cpu/train_throughput*.csv), XLA's
  defaults elsewhere; "" or "default": XLA's defaults; else "key=value,…".
  """
  from foldedcnn_jax.runtime import execution

  if text == "auto":
    return dict(execution.YNNPACK_OFF) if backend == "cpu" else {}
  return dict(execution.parse_compiler_options(text))


def _model_spec(config, task: tasks_lib.Task) -> spec_lib.ModelSpec:
  """The task's spec at config.fold (a warm-started run's must also have a slot spec)."""
  from foldedcnn_jax.models import slots  # flax loads only when settings are made

  spec = spec_lib.ModelSpec.for_task(
      task, fold=config.fold, width_multiplier=config.model.width_multiplier or None,
      width_rounding=config.model.width_rounding)
  spec.plan()  # an architecture that does not fit its input fails here, as one line
  if warm_starts(config):
    try:
      slots.slot_spec(spec)
    except spec_lib.ArchitectureError as error:
      raise ConfigError(f"config.warm_start.slot_epochs: {error}") from None
  return spec


def _check_data(config) -> None:
  data = config.data
  _choice(data.engine, "data.engine", ("auto", *ENGINES))
  _require(data.device_budget_mb >= 0,
           f"config.data.device_budget_mb must be >= 0, got {data.device_budget_mb}")
  for field in ("scale", "eval_scale"):
    value = data[field]
    _require(0 < value <= 100, f"config.data.{field} must be in (0, 100], got {value}")
  _require(bool(data.video) == bool(data.labels_csv),
           "config.data.video and config.data.labels_csv must be given together")
  _require(not (data.image_folder and data.video),
           "config.data.image_folder and config.data.video are two different sources; give one")
  _require(_is_int(data.worker_count) and data.worker_count >= 0,
           f"config.data.worker_count must be >= 0, got {data.worker_count!r}")
  _choice(data.train_grouping, "data.train_grouping", data_common.TRAIN_GROUPINGS)
  _require(0 <= data.consecutive_share <= 1,
           f"config.data.consecutive_share must be in [0, 1], got {data.consecutive_share}")
  _require(0 <= data.input_repetition <= 1,
           f"config.data.input_repetition must be in [0, 1], got {data.input_repetition}")
  _require(_is_int(data.input_repetition_epochs) and data.input_repetition_epochs >= 0,
           f"config.data.input_repetition_epochs must be an integer >= 0 (0 = constant), got "
           f"{data.input_repetition_epochs!r}")
  _require(_is_int(data.batch_repetition) and data.batch_repetition >= 1,
           f"config.data.batch_repetition must be an integer >= 1, got {data.batch_repetition!r}")
  _require(data.batch_repetition == 1 or config.fold == 1 or
           data.train_grouping == "independent",
           f"config.data.batch_repetition={data.batch_repetition} reshuffles a batch's images, "
           f"which {data.train_grouping} groups keep together: use the independent grouping")


def train_groups(config, epoch: int) -> data_common.TrainGroups:
  """How a run's epoch (0-based) folds its training images. Input repetition ρ is
  `data.input_repetition` falling linearly to 0 over `data.input_repetition_epochs` epochs
  (0: constant); an f = 1 run has neither repetition."""
  data = config.data
  start, epochs = data.input_repetition, data.input_repetition_epochs
  folded = config.fold > 1
  rho = start if not epochs else start * max(0.0, 1.0 - epoch / epochs)
  return data_common.TrainGroups(
      config.fold, data.train_grouping, data.consecutive_share,
      input_repetition=rho if folded else 0.0,
      batch_repetition=int(data.batch_repetition) if folded else 1)


def _check_warm_start(config) -> None:
  warm_start = config.warm_start
  _require(warm_start.cross_slot_init >= 0,
           f"config.warm_start.cross_slot_init must be >= 0, got {warm_start.cross_slot_init}")
  _require(_is_int(warm_start.slot_epochs) and warm_start.slot_epochs >= -1,
           f"config.warm_start.slot_epochs must be an integer >= -1 (0 = off, -1 = num_epochs), "
           f"got {warm_start.slot_epochs!r}")
  _require(_is_int(warm_start.folded_epochs) and warm_start.folded_epochs >= -1,
           f"config.warm_start.folded_epochs must be an integer >= -1 (-1 = num_epochs, 0 = the "
           f"embedded slot model is the folded model), got {warm_start.folded_epochs!r}")
  _require(warm_start.folded_learning_rate >= 0,
           f"config.warm_start.folded_learning_rate must be >= 0 (0 = optimizer.learning_rate), "
           f"got {warm_start.folded_learning_rate}")
  _require(warm_start.learning_rate >= 0,
           f"config.warm_start.learning_rate must be >= 0 (0 = optimizer.learning_rate), got "
           f"{warm_start.learning_rate}")


def warm_starts(config) -> bool:
  """Whether a fresh run of `config` begins with the slot-wise warm start."""
  return config.warm_start.slot_epochs != 0 and config.fold > 1


def slot_epochs(config) -> int:
  """Epochs of the warm start's slot run (-1: as many as the folded run's num_epochs)."""
  return _or_num_epochs(config, config.warm_start.slot_epochs)


def run_epochs(config) -> int:
  """Epochs the run trains its own model: a warm-started folded run's `warm_start.folded_epochs`
  (-1: num_epochs; 0: none, the embedded slot model is the result), else num_epochs."""
  if not warm_starts(config):
    return config.num_epochs
  return _or_num_epochs(config, config.warm_start.folded_epochs)


def _or_num_epochs(config, epochs: int) -> int:
  return config.num_epochs if epochs == -1 else epochs


def _resolve_curriculum(config, task: tasks_lib.Task) -> Curriculum:
  settings, num_classes = config.curriculum, task.num_classes
  _choice(settings.mode, "curriculum.mode", CURRICULUM_MODES)
  for field in ("initial_classes", "step_classes"):
    value = settings[field]
    _require(_is_int(value) and 0 <= value <= num_classes,
             f"config.curriculum.{field} must be in [0, {num_classes}] (0 = the authors' "
             f"default), got {value!r}")
  _require(_is_int(settings.step_epochs) and settings.step_epochs >= 1,
           f"config.curriculum.step_epochs must be >= 1, got {settings.step_epochs!r}")
  enabled = settings.mode == "on" or (
      settings.mode == "auto" and task.family == "game" and config.fold > 1 and
      not warm_starts(config))
  initial = settings.initial_classes or curriculum_lib.default_initial_classes(
      num_classes, config.fold)
  step = settings.step_classes or curriculum_lib.default_step_classes(num_classes)
  return Curriculum(enabled, initial, step, settings.step_epochs)


def _check_distillation(config) -> None:
  distillation = config.distillation
  _choice(distillation.loss, "distillation.loss", DISTILLATION_LOSSES)
  _require(distillation.temperature > 0,
           f"config.distillation.temperature must be > 0, got {distillation.temperature}")
  _require(0 <= distillation.alpha <= 1,
           f"config.distillation.alpha must be in [0, 1], got {distillation.alpha}")
  if distillation.teacher:
    _require(os.path.exists(distillation.teacher),
             f"config.distillation.teacher: no such workdir or checkpoint {distillation.teacher!r}")


def _check_checkpoint(config) -> None:
  checkpoint = config.checkpoint
  _require(_is_int(checkpoint.every_epochs) and checkpoint.every_epochs >= 1,
           f"config.checkpoint.every_epochs must be an integer >= 1, got "
           f"{checkpoint.every_epochs!r}")
  _require(checkpoint.keep >= 1, f"config.checkpoint.keep must be >= 1, got {checkpoint.keep}")


def _check_distributed(config) -> None:
  distributed = config.distributed
  _require(distributed.num_processes >= 1 and
           0 <= distributed.process_id < distributed.num_processes,
           f"config.distributed.process_id={distributed.process_id} must be in "
           f"[0, num_processes={distributed.num_processes})")


# Each section's check, the run's own fields first (the others compare with its fold); the task,
# the curriculum (which needs the task) and the model spec are checked as they are resolved.
_SECTION_CHECKS = (_check_run, _check_optimizer, _check_model, _check_data, _check_warm_start,
                   _check_distillation, _check_checkpoint, _check_distributed)


def make_run_settings(config, workdir: str | None = None, *,
                      spec: spec_lib.ModelSpec | None = None) -> RunSettings:
  """Checks `config` (raising one-line ConfigErrors) and resolves the derived settings; `spec`:
  the model to train when not the task's at config.fold (a recipe phase's own, at that fold)."""
  for check in _SECTION_CHECKS:
    check(config)
  task = _check_task(config)
  curriculum = _resolve_curriculum(config, task)
  if spec is None:
    spec = _model_spec(config, task)
  elif spec.fold != config.fold or spec.input_shape != task.input_shape:
    raise ValueError(f"a spec for fold {spec.fold} and input {spec.input_shape} cannot train "
                     f"task {task.id} at config.fold={config.fold}")
  fold = config.fold
  return RunSettings(
      task=task, spec=spec, fold=fold,
      batch_size=config.batch_size // fold * fold,
      eval_batch_size=config.eval_batch_size // fold * fold,
      num_epochs=run_epochs(config),
      workdir=workdir or config.workdir or default_workdir(config),
      curriculum=curriculum,
      source=data_common.Source.from_config(config.data),
  )
