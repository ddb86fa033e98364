"""Probe: images/s of a bare jitted train step (model + softmax cross-entropy + optax Adam,
batch 32, random data already on the device) under the XLA_FLAGS of the calling shell.

It isolates XLA:CPU's kernels from the engine (no augmentation, no metrics, plain max pools), so
only ratios between flag sets in one sitting mean anything. Session 11's runs, one process each:

  off=--xla_cpu_experimental_ynn_fusion_type=   # YNNPACK off, as the train steps compile
  xnn=--xla_cpu_experimental_xnn
  for flags in "$off" "$off ${xnn}_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY" \
      "$off ${xnn}_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY_SLINKY" \
      "$off ${xnn}_fusion_type=dot,eltwise,reduce"; do
    for task in n2 v1; do
      XLA_FLAGS="$flags" python results/cpu/probes/train_step_flags.py $task 1
    done
  done
  XLA_FLAGS=--xla_force_host_platform_device_count=2 \
      python results/cpu/probes/train_step_flags.py n2 1

With two host devices the batch is split over them (data parallel); output in
train_step_flags.txt.
"""

import sys
import time

import jax
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from foldedcnn_jax.models.cnn import create_model
from foldedcnn_jax.models.spec import ModelSpec

STEPS, BATCH, ROUNDS = 20, 32, 3


def main(task: str, fold: int) -> None:
  spec = ModelSpec.for_task(task, fold=fold)
  graphdef, params = nnx.split(create_model(spec, seed=0))
  optimizer = optax.adam(1e-3)
  mesh = jax.make_mesh((len(jax.devices()),), ("data",))
  replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
  params, opt_state = jax.device_put((params, optimizer.init(params)), replicated)
  inputs, classes = BATCH // fold, spec.num_classes
  rng = np.random.default_rng(0)
  images = [jax.device_put(rng.random((inputs, *spec.folded_input_shape), np.float32), split)
            for _ in range(STEPS)]
  labels = [jax.device_put(rng.integers(0, classes, (inputs, fold)), split)
            for _ in range(STEPS)]

  @jax.jit
  def step(params, opt_state, x, y):
    def loss(p):
      logits = nnx.merge(graphdef, p)(x).reshape(-1, fold, classes)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value

  params, opt_state, value = step(params, opt_state, images[0], labels[0])
  value.block_until_ready()
  for _ in range(ROUNDS):
    start = time.perf_counter()
    for _ in range(5):
      for x, y in zip(images, labels, strict=True):
        params, opt_state, value = step(params, opt_state, x, y)
    value.block_until_ready()
    seconds = time.perf_counter() - start
    print(f"{task} f={fold} devices={len(jax.devices())}: {5 * STEPS * BATCH / seconds:.0f} "
          "images/s", flush=True)


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]))
