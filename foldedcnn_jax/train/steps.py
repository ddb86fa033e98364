"""Pure train/eval steps over a split NNX state, data parallel over a ("data",) device mesh.

`nnx.split` happens once; the steps are plain functions of (graphdef, state, batch) that
`jax.jit` compiles with batches sharded on P("data") and parameters replicated. Batches carry
unfolded images; the step folds them, so a teacher (an f = 1 CNN) sees the same images.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from foldedcnn_jax.runtime import execution, folding

# {"params": nnx.State, "opt_state": optax state, "step": int32}, plus "ema_params" (the moving
# average of "params" that is evaluated and kept) when the run averages its weights.
RunState = dict[str, Any]


def init_state(params: nnx.State, tx: optax.GradientTransformation, ema: bool = False
               ) -> RunState:
  """A run's first train state from its initial parameters (the average starts at them)."""
  state = {"params": params, "opt_state": tx.init(params), "step": np.int32(0)}
  if ema:
    state["ema_params"] = jax.tree.map(jnp.copy, params)
  return state


def eval_params(state: RunState) -> nnx.State:
  """The parameters a run evaluates, checkpoints as its model and exports: the moving average
  when the run keeps one, else the trained parameters."""
  return state.get("ema_params", state["params"])


def ema_step_size(step: jax.Array, decay: float) -> jax.Array:
  """1 − the averaging decay at optimizer step `step` (0-based): min(decay, (1+t)/(10+t)), so
  the average follows the parameters closely over the first steps (as TensorFlow's
  ExponentialMovingAverage with num_updates)."""
  step = jnp.asarray(step, jnp.float32)
  return 1.0 - jnp.minimum(decay, (1.0 + step) / (10.0 + step))


@dataclasses.dataclass(frozen=True)
class Distillation:
  """How the teacher's logits enter the loss: (1 − alpha)·CE + alpha·D."""

  loss: str  # "mse" on logits (the authors) or "kl" with a temperature
  temperature: float
  alpha: float


@dataclasses.dataclass(frozen=True)
class Augment:
  """Random changes to each training image, drawn from (seed, step): a shift of up to `shift`
  pixels each way (edges repeated) and, with `flip`, a left-right mirror half of the time."""

  shift: int = 0
  flip: bool = False
  seed: int = 0

  @property
  def active(self) -> bool:
    return self.shift > 0 or self.flip


def augment_images(images: jax.Array, step: jax.Array, augment: Augment) -> jax.Array:
  """`augment` applied to a (B, H, W, C) batch of unfolded images; a pure function of step."""
  key = jax.random.fold_in(jax.random.key(augment.seed), step)
  shift_key, flip_key = jax.random.split(key)
  if augment.flip:
    mirrored = jax.random.bernoulli(flip_key, 0.5, (images.shape[0], 1, 1, 1))
    images = jnp.where(mirrored, images[:, :, ::-1], images)
  if augment.shift:
    pad = augment.shift
    height, width = images.shape[1:3]
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    offsets = jax.random.randint(shift_key, (images.shape[0], 2), 0, 2 * pad + 1)
    crop = lambda image, offset: jax.lax.dynamic_slice(
        image, (offset[0], offset[1], 0), (height, width, image.shape[-1]))
    images = jax.vmap(crop)(padded, offsets)
  return images


def learning_rate_schedule(optimizer_config, total_steps: int | None) -> optax.Schedule | float:
  """The optimizer's learning rate: constant, or linear warm-up then cosine decay to 0."""
  learning_rate = optimizer_config.learning_rate
  if optimizer_config.schedule == "constant":
    return learning_rate
  if not total_steps:
    raise ValueError("a cosine schedule needs the run's total number of steps")
  warmup = int(round(optimizer_config.warmup_fraction * total_steps))
  return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup,
                                            max(total_steps, warmup + 1))


def make_optimizer(optimizer_config, total_steps: int | None = None, update_scales=None,
                   tie_gradients=None) -> optax.GradientTransformation:
  """Adam / RMSprop / SGD with L2 weight decay added to the gradient (as PyTorch's Adam), at
  the config's learning-rate schedule over `total_steps`; `update_scales` (a tree like the
  parameters) multiplies each parameter's update, i.e. its learning rate; `tie_gradients` (a
  function of the gradient tree, e.g. models/slots.slot_tying) maps the gradients first."""
  chain = []
  if tie_gradients is not None:
    chain.append(optax.stateless(lambda grads, params=None: tie_gradients(grads)))
  chain.append(_base_optimizer(optimizer_config, total_steps))
  if update_scales is not None:
    chain.append(optax.stateless(
        lambda updates, params=None: jax.tree.map(jnp.multiply, updates, update_scales)))
  return chain[0] if len(chain) == 1 else optax.chain(*chain)


def _base_optimizer(optimizer_config, total_steps: int | None) -> optax.GradientTransformation:
  name = optimizer_config.name
  learning_rate = learning_rate_schedule(optimizer_config, total_steps)
  momentum = optimizer_config.momentum or None
  if name == "adam":
    base = optax.adam(learning_rate, eps=optimizer_config.eps)
  elif name == "rmsprop":
    base = optax.rmsprop(learning_rate, decay=optimizer_config.rmsprop_decay,
                         eps=optimizer_config.eps, momentum=momentum)
  elif name == "sgd":
    base = optax.sgd(learning_rate, momentum=momentum)
  else:
    raise ValueError(f"unknown optimizer {name!r}")
  if optimizer_config.weight_decay:
    return optax.chain(optax.add_decayed_weights(optimizer_config.weight_decay), base)
  return base


def make_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh over every device of every process, axis "data"."""
  return jax.make_mesh((jax.device_count(),), ("data",),
                       axis_types=(jax.sharding.AxisType.Auto,))


def replicate(tree, mesh: jax.sharding.Mesh):
  """The same value on every device of every process (built from each process's host copy, so
  it also works when the mesh spans several processes)."""
  sharding = NamedSharding(mesh, P())

  def put(leaf):
    value = np.asarray(leaf)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

  return jax.tree.map(put, tree)


def shard_batch(batch: dict[str, np.ndarray], mesh: jax.sharding.Mesh) -> dict[str, jax.Array]:
  """Host-local numpy batch → global arrays split over the "data" axis."""
  sharding = NamedSharding(mesh, P("data"))
  return {key: jax.make_array_from_process_local_data(sharding, value)
          for key, value in batch.items()}


def _masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
  return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1)


def unfolded_logits(graphdef: nnx.GraphDef, params: nnx.State, images: jax.Array,
                    fold: int, formulation: str = "") -> jax.Array:
  """(B, H, W, C) images → (B, K) float32 logits of the folded model, its slow layers written
  as `formulation` (an `execution.FORMULATIONS` entry; the same logits)."""
  logits = execution.forward(graphdef, params, folding.fold(images, fold), formulation)
  return folding.unfold(logits, fold).astype(jnp.float32)


def distillation_loss(student: jax.Array, teacher: jax.Array, distillation: Distillation):
  """Per-example MSE on logits, or KL(teacher_T ‖ student_T)·T²."""
  if distillation.loss == "mse":
    return jnp.mean(jnp.square(student - teacher), axis=-1)
  temperature = distillation.temperature
  teacher_probs = jax.nn.softmax(teacher / temperature)
  log_ratio = jax.nn.log_softmax(teacher / temperature) - jax.nn.log_softmax(student / temperature)
  return jnp.sum(teacher_probs * log_ratio, axis=-1) * temperature**2


def train_step(graphdef: nnx.GraphDef, state: RunState, batch: dict[str, jax.Array],
               teacher_params: nnx.State | None = None, *, tx: optax.GradientTransformation,
               fold: int, distillation: Distillation | None = None,
               teacher_graphdef: nnx.GraphDef | None = None, formulation: str = "",
               augment: Augment = Augment(), label_smoothing: float = 0.0,
               ema_decay: float = 0.0) -> tuple[RunState, dict]:
  """One optimizer step on a batch; returns the new state and summed metrics. With
  `ema_decay`, the state's "ema_params" move toward the updated parameters."""
  images, labels, mask = batch["image"], batch["label"], batch["mask"].astype(jnp.float32)
  if augment.active:
    images = augment_images(images, state["step"], augment)
  teacher_logits = None
  if distillation is not None:
    teacher_logits = jax.lax.stop_gradient(
        unfolded_logits(teacher_graphdef, teacher_params, images, 1, formulation))

  def loss_fn(params):
    logits = unfolded_logits(graphdef, params, images, fold, formulation)
    cross_entropy = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    objective = cross_entropy
    if label_smoothing:
      targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
      objective = optax.softmax_cross_entropy(logits, targets)
    loss = _masked_mean(objective, mask)
    if distillation is not None:
      distilled = _masked_mean(distillation_loss(logits, teacher_logits, distillation), mask)
      loss = (1 - distillation.alpha) * loss + distillation.alpha * distilled
    return loss, (logits, cross_entropy)

  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
  (loss, (logits, cross_entropy)), grads = grad_fn(state["params"])
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  new_state = {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state,
               "step": state["step"] + 1}
  if "ema_params" in state:
    new_state["ema_params"] = optax.incremental_update(
        new_state["params"], state["ema_params"], ema_step_size(state["step"], ema_decay))
  count = jnp.sum(mask)
  metrics = {
      "loss_sum": loss * count,  # the optimised objective (with distillation when on)
      "cross_entropy_sum": jnp.sum(cross_entropy * mask),
      "correct": jnp.sum((jnp.argmax(logits, -1) == labels) * mask),
      "count": count,
  }
  return new_state, metrics


def eval_step(graphdef: nnx.GraphDef, params: nnx.State, batch: dict[str, jax.Array],
              num_seen: jax.Array, *, fold: int, top_k: int, formulation: str = "") -> dict:
  """Summed loss, top-1/top-k hits on all classes and on the classes seen so far."""
  images, labels, mask = batch["image"], batch["label"], batch["mask"].astype(jnp.float32)
  logits = unfolded_logits(graphdef, params, images, fold, formulation)
  cross_entropy = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  correct = (jnp.argmax(logits, -1) == labels) * mask
  seen = mask * (labels < num_seen)
  metrics = {
      "loss_sum": jnp.sum(cross_entropy * mask),
      "correct": jnp.sum(correct),
      "count": jnp.sum(mask),
      "correct_seen": jnp.sum(correct * seen),
      "count_seen": jnp.sum(seen),
  }
  if top_k > 1:
    top = jax.lax.top_k(logits, top_k)[1]
    metrics["correct_top_k"] = jnp.sum(jnp.any(top == labels[:, None], -1) * mask)
  return metrics


def accumulate(sums: dict, metrics: dict) -> dict:
  return jax.tree.map(jnp.add, sums, metrics)


def zero_sums(step_fn, *args) -> dict:
  """Zeros shaped like the metrics `step_fn(*args)` returns (its last output)."""
  shapes = jax.eval_shape(step_fn, *args)
  metrics = shapes[-1] if isinstance(shapes, tuple) else shapes
  return jax.tree.map(lambda shape: np.zeros(shape.shape, shape.dtype), metrics)


def gather_batch(split: dict[str, jax.Array], indices: jax.Array, mask: jax.Array,
                 mesh: jax.sharding.Mesh) -> dict[str, jax.Array]:
  """A batch taken in-graph from a device-resident split, laid out over the "data" axis.
  Masked rows point at the split's zero padding row, as the grain path zeroes them."""
  batch = {"image": split["image"][indices], "label": split["label"][indices], "mask": mask}
  return jax.lax.with_sharding_constraint(batch, NamedSharding(mesh, P("data")))


def train_steps(graphdef, state: RunState, sums: dict, split: dict, indices: jax.Array,
                mask: jax.Array, teacher_params=None, *, mesh, **step_kwargs):
  """`lax.scan` of train steps over the rows of (indices, mask): (K, B) batches of a split."""

  def body(carry, rows):
    state, sums = carry
    batch = gather_batch(split, rows[0], rows[1], mesh)
    state, metrics = train_step(graphdef, state, batch, teacher_params, **step_kwargs)
    return (state, accumulate(sums, metrics)), None

  (state, sums), _ = jax.lax.scan(body, (state, sums), (indices, mask))
  return state, sums


def train_gathered(graphdef, state: RunState, sums: dict, split: dict, indices: jax.Array,
                   mask: jax.Array, row: jax.Array, teacher_params=None, *, mesh, **step_kwargs):
  """One train step on batch `row` of (indices, mask), gathered in-graph from a split on device.

  XLA:CPU runs a `lax.scan` body's convolutions several times slower than the same step
  outside a loop (measured ~6x on n2), so CPU runs one compiled step per dispatch."""
  batch = gather_batch(split, indices[row], mask[row], mesh)
  return train_and_accumulate(graphdef, state, sums, batch, teacher_params, **step_kwargs)


def eval_steps(graphdef, params, sums: dict, split: dict, indices: jax.Array, mask: jax.Array,
               num_seen: jax.Array, *, mesh, **step_kwargs) -> dict:
  """`lax.scan` of eval steps over (K, B) batches of a device-resident split."""

  def body(sums, rows):
    batch = gather_batch(split, rows[0], rows[1], mesh)
    return accumulate(sums, eval_step(graphdef, params, batch, num_seen, **step_kwargs)), None

  return jax.lax.scan(body, sums, (indices, mask))[0]


def train_and_accumulate(graphdef, state: RunState, sums: dict, batch: dict,
                         teacher_params=None, **step_kwargs):
  """One streamed train step whose metrics are added to `sums` inside the compiled step."""
  state, metrics = train_step(graphdef, state, batch, teacher_params, **step_kwargs)
  return state, accumulate(sums, metrics)


def eval_and_accumulate(graphdef, params, sums: dict, batch: dict, num_seen, **step_kwargs):
  return accumulate(sums, eval_step(graphdef, params, batch, num_seen, **step_kwargs))


def jit_train(function, graphdef, mesh, /, compiler_options=None, **kwargs):
  """A train function of (state, sums, ...) compiled for `mesh` (with XLA `compiler_options`);
  state and sums are donated, so parameters and optimizer state are updated in place."""
  replicated = NamedSharding(mesh, P())
  return jax.jit(functools.partial(function, graphdef, **kwargs), donate_argnums=(0, 1),
                 out_shardings=(replicated, replicated), compiler_options=compiler_options)


def jit_eval(function, graphdef, mesh, /, compiler_options=None, **kwargs):
  replicated = NamedSharding(mesh, P())
  return jax.jit(functools.partial(function, graphdef, **kwargs), donate_argnums=(1,),
                 out_shardings=replicated, compiler_options=compiler_options)
