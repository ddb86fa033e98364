"""Every training field with its default, plus the authors' per-family recipes.

Not a task of its own: `configs/<task>.py` calls `task_config("<task>", arg)`. Any field can be
overridden on the command line, e.g. `--config.fold=4 --config.optimizer.learning_rate=3e-4`.
Three variants: the default is the practical recipe, `:paper` (`--config=configs/n2.py:paper`)
the authors', `:quick` the practical recipe for a few epochs on a scaled-down train split (a CPU
smoke run; the cpu accuracy table trains it 2 × + 4 of its epochs, configs/accuracy.py); each
writes to `runs/<task>/f<fold>[_<variant>]`. Why the defaults are what they are (the authors'
init, the warm start's rates, no folded epochs, EMA off, XLA:CPU options): results/recipes.md.
"""

from __future__ import annotations

import ml_collections

# The authors' recipes (`:paper`): game tasks Adam 1e-4 with weight decay 1e-5 for 1500 epochs
# and, folded, the class curriculum; NoScope tasks RMSprop 0.001/1.5 for 50 epochs; minibatch 32.
_PAPER_RECIPES = {
    "game": {"num_epochs": 1500, "optimizer.name": "adam", "optimizer.learning_rate": 1e-4,
             "optimizer.weight_decay": 1e-5},
    "noscope": {"num_epochs": 50, "optimizer.name": "rmsprop",
                "optimizer.learning_rate": 0.001 / 1.5},
    "toy": {"num_epochs": 10, "optimizer.name": "adam", "optimizer.learning_rate": 1e-2},
}
# The practical recipes (the default): Adam 1e-3 with 5 % linear warm-up and cosine decay, random
# shifts (and, for video frames, mirroring, and 5x the paper's training video: its train chunk plus
# 4 more, away from val and test; 16 epochs); a folded run trains its slot model for as many epochs
# at 3e-3 and embeds it into every slot (the slot-wise warm start: without it folded game models
# stay at chance), and that embedded model is the result: folded epochs after it lowered accuracy.
# Measurements: results/recipes.md § configs/base.py.
_FOLDED_WARM_START = {"warm_start.slot_epochs": -1, "warm_start.learning_rate": 3e-3,
                      "warm_start.folded_learning_rate": 1e-4, "warm_start.folded_epochs": 0}
_PRACTICAL_RECIPES = {
    "game": {"num_epochs": 30, "optimizer.name": "adam", "optimizer.learning_rate": 1e-3,
             "optimizer.schedule": "cosine", "optimizer.warmup_fraction": 0.05,
             "augment.shift": 2, **_FOLDED_WARM_START},
    "noscope": {"num_epochs": 16, "data.scale": 5.0, "optimizer.name": "adam",
                "optimizer.learning_rate": 1e-3, "optimizer.schedule": "cosine",
                "optimizer.warmup_fraction": 0.05, "augment.shift": 3, "augment.flip": True,
                **_FOLDED_WARM_START},
    "toy": _PAPER_RECIPES["toy"],
}
VARIANTS = ("", "quick", "paper")


def get_config() -> ml_collections.ConfigDict:
  """All fields with their defaults (task "tiny"); task configs start from this."""
  config = ml_collections.ConfigDict()
  config.task = "tiny"
  config.fold = 1  # f: images folded into one input
  config.seed = 0  # model initialisation
  config.variant = ""  # "" or "quick"; only names the default workdir
  config.workdir = ""  # "" → runs/<task>/f<fold>[_<variant>]
  config.num_epochs = 20
  config.batch_size = 32  # images per step, rounded down to a multiple of fold
  config.eval_batch_size = 256  # images per eval step, rounded down to a multiple of fold
  # Device-resident splits: train steps per compiled call (a lax.scan; the host and the progress
  # bar advance once per call). 0 = auto: 1 on CPU, where XLA runs a scan body's convolutions
  # several times slower than a plain step, 100 on accelerators.
  config.steps_per_call = 0
  # Val/test are evaluated in a fixed permutation of the split (the authors' seed 19), so a
  # folded group never holds consecutive records; -1 evaluates in record order. Folded NoScope
  # models also report the record-order ("stream") accuracy.
  config.eval_permutation_seed = 19
  config.profile_epoch = 0  # >0: jax.profiler trace of that epoch's steps into workdir/profile

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"  # adam | rmsprop | sgd
  config.optimizer.learning_rate = 1e-3
  config.optimizer.weight_decay = 0.0  # L2 added to the gradient (PyTorch-style Adam)
  config.optimizer.momentum = 0.0  # sgd and rmsprop
  config.optimizer.rmsprop_decay = 0.9
  config.optimizer.eps = 1e-8
  # constant | cosine: linear warm-up over `warmup_fraction` of the run's steps, then cosine
  # decay to 0 at its last step (optax.warmup_cosine_decay_schedule).
  config.optimizer.schedule = "constant"
  config.optimizer.warmup_fraction = 0.0
  # >0: evaluate, keep and export an exponential moving average of the parameters (Polyak
  # averaging; optax.incremental_update each step at decay min(ema_decay, (1+t)/(10+t))),
  # while the optimizer keeps training the raw parameters. 0 = the raw parameters. Off by default:
  # it steadied f = 1 models but widened the f = 4 drop (results/recipes.md § configs/base.py).
  config.optimizer.ema_decay = 0.0
  # Folded models: the learning rate of the weights between slots (models/slots.py
  # cross_slot_masks) is this multiple of the others' (1: the same; 0: they stay as they start).
  config.optimizer.cross_slot_lr_scale = 1.0
  # Folded models: True ties the weights across slots (models/slots.slot_tying): the start
  # (slot 0's block in every slot, one block between every two slots) and every gradient (each
  # slot's block gets the mean over slots, each block between slots the mean over the pairs),
  # so every weight learns from all f images of a group and permuting a group's images permutes
  # their logits.
  config.optimizer.tie_slots = False
  config.label_smoothing = 0.0  # optax.smooth_labels on the cross-entropy targets

  # Training-image augmentation, drawn from (data.seed, step): a random shift of up to `shift`
  # pixels each way (edges repeated) and a random left-right mirror (`flip`).
  config.augment = ml_collections.ConfigDict()
  config.augment.shift = 0
  config.augment.flip = False

  config.model = ml_collections.ConfigDict()
  config.model.width_multiplier = 0.0  # 0 → sqrt(fold), as the paper
  config.model.width_rounding = 1
  config.model.param_dtype = "float32"
  config.model.dtype = "float32"  # compute dtype, e.g. "bfloat16"
  # Weight init: flax (nnx defaults: lecun_normal, zero bias) | authors (conv xavier_uniform
  # with ReLU gain, dense N(0, 0.01), zero bias).
  config.model.init = "authors"
  # True: the output layer's kernel and bias start at zero (every logit 0), whatever `init`
  # draws for the other layers (the same draws either way). Measured: results/recipes.md.
  config.model.zero_init_head = False
  # Folded models from a random start: the weights between slots start as this multiple of the
  # init's draws (1: as drawn; 0: block-diagonal, f independent random narrow twins).
  config.model.cross_slot_init = 1.0
  # Folded models from a random start: "folded" draws every weight for the folded layer's fan
  # (each slot's block √f smaller per layer than a narrow CNN's start); "twin" starts slot j as
  # a narrow twin (models/slots.slot_spec) drawn for its own widths, the weights between slots
  # as "folded" draws them times `cross_slot_init`.
  config.model.slot_init = "folded"
  # How slow layers are written in training and evaluation (the same logits): "sliced_pool"
  # computes max pools as maxima of strided slices, whose gradient XLA:CPU runs far faster than
  # reduce_window's (n2 train step 48 → 22 ms); "model" keeps nnx.max_pool; "auto" slices the
  # overlapping (stride < window) pools' models.
  config.model.formulation = "auto"
  # XLA options of the compiled train and eval steps: "auto" turns XLA:CPU's YNNPACK fusions off
  # on a CPU (faster train steps there: results/recipes.md § configs/base.py) and keeps XLA's
  # defaults elsewhere; "" = XLA's defaults; or "key=value,…".
  config.model.compiler_options = "auto"

  config.data = ml_collections.ConfigDict()
  config.data.data_dir = ""  # "" → $FOLDEDCNN_DATA_DIR or ./data
  config.data.scale = 1.0  # fraction of the paper's train split to generate
  config.data.eval_scale = 1.0  # the same for val and test: 1 keeps the paper's eval sizes
  config.data.seed = 0  # dataset generation and shuffle order
  config.data.video = ""  # NoScope: a real video; "" → the embedded synthetic scene
  config.data.labels_csv = ""
  config.data.image_folder = ""  # the authors' <root>/<task>/{train,val,test}/<class>/*.png
  # How the f images of a folded training input are chosen (data/common.py TRAIN_GROUPINGS):
  # independent (the paper) | consecutive records (f consecutive video frames, as a stream
  # filter folds them) | mix (each group consecutive with probability consecutive_share).
  config.data.train_grouping = "independent"
  config.data.consecutive_share = 0.5
  # Input repetition (MIMO, Havasi et al. 2021) for folded training: with probability ρ a
  # training group's f slots all hold the same image (its first), so the slots' readers see
  # correlated inputs and learn to use the weights between slots. ρ starts at
  # `input_repetition` and falls linearly to 0 over `input_repetition_epochs` epochs of the
  # folded run (0: constant); every epoch's groups are a pure function of (seed, epoch).
  config.data.input_repetition = 0.0
  config.data.input_repetition_epochs = 0
  # MIMO batch repetition for a folded run (data.common.TrainGroups): each batch of batch_size
  # images is followed by batch_repetition − 1 shuffles of itself, so a step trains on
  # batch_repetition × batch_size images and each image meets other partners and slots
  # (independent groups only). 1: off.
  config.data.batch_repetition = 1
  config.data.worker_count = 0  # grain worker processes of the streaming path
  # A split whose images fit this budget is put on the devices once (sharded over "data") and
  # batched in-graph; a larger one streams through grain. "device"/"stream" force one path.
  config.data.engine = "auto"  # auto | device | stream
  config.data.device_budget_mb = 2048  # per split, uint8 images

  # Class curriculum: start with `initial_classes`, add `step_classes` every `step_epochs`.
  config.curriculum = ml_collections.ConfigDict()
  config.curriculum.mode = "auto"  # auto (game tasks with fold > 1) | on | off
  config.curriculum.initial_classes = 0  # 0 → max(K // 10, fold)
  config.curriculum.step_classes = 0  # 0 → max(K // 10, 1)
  config.curriculum.step_epochs = 60

  # Distillation from a trained original (fold = 1) CNN of the same task.
  config.distillation = ml_collections.ConfigDict()
  config.distillation.teacher = ""  # teacher workdir or checkpoint dir; "" → off
  config.distillation.loss = "mse"  # mse on logits (the authors) | kl
  config.distillation.temperature = 1.0  # kl only
  config.distillation.alpha = 1.0  # loss = (1 - alpha) * cross-entropy + alpha * distillation

  # Slot-wise warm start of a folded run (models/slots.py): a fresh run with fold > 1 first
  # trains the f = 1 "slot" model (the folded widths / fold) for `slot_epochs` epochs in
  # <workdir>/slot_warm_start (an ordinary run: same task, data, seeds and optimizer, and it
  # resumes on its own), then embeds its best-validation parameters block-diagonally into the
  # folded model, which starts as f exact copies of it; `folded_epochs` of folded training
  # follow, at `folded_learning_rate`. The class curriculum's "auto" is off for such runs (the
  # slots already know every class). slot_epochs 0 = off.
  config.warm_start = ml_collections.ConfigDict()
  config.warm_start.slot_epochs = 0  # -1: as many as num_epochs
  config.warm_start.learning_rate = 0.0  # the slot phase's; 0 → optimizer.learning_rate
  config.warm_start.folded_learning_rate = 0.0  # the folded phase's; 0 → optimizer.learning_rate
  # True: the slot model's output layer starts at zero (model.zero_init_head for the slot run
  # only; measured in results/recipes.md § configs/v6.py).
  config.warm_start.zero_init_head = False
  # Epochs of folded training after the embedding (-1: num_epochs). The embedded model is the
  # folded run's epoch 0: evaluated on val and test, checkpointed, and the best-validation
  # model until a folded epoch beats it, so 0 makes the slot model, copied into every slot, the
  # result.
  config.warm_start.folded_epochs = -1
  # The embedded model's weights between slots start as this multiple of their random initial
  # values (0: exactly zero, f independent copies of the slot model).
  config.warm_start.cross_slot_init = 0.0

  config.checkpoint = ml_collections.ConfigDict()
  config.checkpoint.keep = 2  # latest checkpoints kept (the previous one backs up a corrupt latest)
  # Also saved whenever validation accuracy improves (that one is kept as the best) and at the end.
  # A save blocks ~5-10 % of an n2 epoch (measured on the shared 2-core CPU), so every 10 epochs
  # keeps checkpointing under 1 % of training time.
  config.checkpoint.every_epochs = 10

  config.progress = True  # tqdm bar per epoch
  config.tensorboard = True

  # Multi-host: set coordinator_address to call jax.distributed.initialize.
  config.distributed = ml_collections.ConfigDict()
  config.distributed.coordinator_address = ""
  config.distributed.num_processes = 1
  config.distributed.process_id = 0
  return config


def task_config(task_id: str, arg: str | None = None, *, family: str, quick_epochs: int,
                quick_scale: float) -> ml_collections.ConfigDict:
  """The config for `task_id`: its family's practical recipe (default), `arg="paper"` the
  authors' recipe, `arg="quick"` the practical recipe as a CPU smoke run (`quick_epochs` on
  `quick_scale` × the train split; val and test keep their size).
  """
  variant = arg or ""
  if variant not in VARIANTS:
    raise ValueError(f"unknown config variant {variant!r}; use one of: quick, paper")
  config = get_config()
  config.task = task_id
  config.variant = variant
  recipe = _PAPER_RECIPES if variant == "paper" else _PRACTICAL_RECIPES
  config.update_from_flattened_dict(recipe[family])
  if variant == "quick":
    config.num_epochs = quick_epochs
    config.data.scale = quick_scale
  return config

