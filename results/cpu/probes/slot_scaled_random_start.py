"""v1 f = 4 from a random start whose slots are initialised at the narrow twin's own scale.

  python results/cpu/probes/slot_scaled_random_start.py NAME CROSS_SLOT_INIT CROSS_SLOT_LR_SCALE

A random narrow twin (its own init: fan-in of the narrow widths) is written into every slot;
the weights between slots start at CROSS_SLOT_INIT x the folded init and learn at
CROSS_SLOT_LR_SCALE x the rate. 24 epochs with the class curriculum (4, +1 every 3 epochs),
into runs/exp/NAME. Results: results/twins.md section 3.
"""
import os
import sys

sys.path.insert(0, os.getcwd())
from flax import nnx  # noqa: E402

from configs import v1  # noqa: E402
from foldedcnn_jax.models import cnn, slots  # noqa: E402
from foldedcnn_jax.train import config as config_lib  # noqa: E402
from foldedcnn_jax.train import loop, recipe  # noqa: E402
from foldedcnn_jax.train import trainer as trainer_lib  # noqa: E402

name, cross_init, cross_lr = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
config = v1.get_config("quick")
config.fold, config.warm_start.slot_epochs, config.num_epochs = 4, 0, 24
config.progress = config.tensorboard = False
config.curriculum.mode = "on"
curriculum = config.curriculum
curriculum.initial_classes, curriculum.step_classes, curriculum.step_epochs = 4, 1, 3
config.optimizer.cross_slot_lr_scale = cross_lr
config.workdir = f"runs/exp/{name}"
settings = config_lib.make_run_settings(config)
twin_spec = recipe.slot_model_run(config, "unused").spec
twin = cnn.create_model(twin_spec, seed=config.seed, init=config.model.init)  # the twin's own init
folded = trainer_lib.initial_model(config, settings)
slots.embed_slots(twin, folded, cross_slot_scale=cross_init)
with loop.open_run(config, settings) as run:
  if run.fresh:
    run.start_from(nnx.split(folded)[1])
  print(run.train())
