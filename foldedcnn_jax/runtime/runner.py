"""One runner for a folded model: fold → pad to a compiled size → place on the devices → the
compiled program (cached per input shape) → unfold → probabilities.

The predictor, the video filter, export and the benchmark call it. The model runs the way the
autotuner (`runtime/tune.py`) found fastest on this device, chosen at the first call (or read
from the tuning cache).
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from foldedcnn_jax.models import spec as spec_lib
from foldedcnn_jax.runtime import execution, folding, grouping, tune


def softmax(logits: np.ndarray) -> np.ndarray:
  """Row-wise softmax of host logits (N, K): the probabilities every caller reports."""
  shifted = np.exp(logits - logits.max(-1, keepdims=True))
  return shifted / shifted.sum(-1, keepdims=True)


class Runner:
  """Runs one (folded) model on folded or unfolded images, on one device or, once
  `replicated`, on every local device (inputs split along the batch)."""

  def __init__(self, graphdef: nnx.GraphDef, params: nnx.State, spec: spec_lib.ModelSpec, *,
               batch_images: int = 256, tune_mode: str = "cached",
               tune_cache: str | None = None, input_sharding: NamedSharding | None = None,
               variant: execution.Variant | None = None, **tune_options):
    """`variant`: run this one instead of tuning; `tune_options`: more `tune.choose` keywords
    (a time budget, the progress bar's description)."""
    self.graphdef, self.params, self.spec = graphdef, params, spec
    self.batch_images = folding.padded_size(batch_images, spec.fold)
    self.tune_mode, self.tune_cache = tune.check_mode(tune_mode), tune_cache
    self.input_sharding = input_sharding  # None: jax's default device
    self.fixed_variant, self.tune_options = variant, tune_options
    self._choice: tune.Choice | None = None
    self._compiled: dict[tuple, object] = {}  # (shape, dtype[, prepare]) → compiled program

  @property
  def fold(self) -> int:
    return self.spec.fold

  @property
  def choice(self) -> tune.Choice:
    """The tuner's choice for a full batch of uint8 inputs, made at the first use."""
    if self._choice is None:
      example = jax.ShapeDtypeStruct((self.batch_images // self.fold,
                                      *self.spec.folded_input_shape), np.uint8)
      if self.fixed_variant is not None:
        self._choice = tune.Choice(self.fixed_variant, execution.compile_forward(
            self.graphdef, self.params, example, self.fold, self.fixed_variant), "explicit")
      else:
        dtype = str(jax.tree.leaves(self.params)[0].dtype)
        self._choice = tune.choose(self.graphdef, self.params, self.spec, example,
                                   mode=self.tune_mode, dtype=dtype,
                                   cache=tune.TuneCache(self.tune_cache), **self.tune_options)
      self._compiled[(example.shape, example.dtype)] = self._choice.compiled
    return self._choice

  @property
  def variant(self) -> execution.Variant:
    """How the model runs (the tuner's choice)."""
    return self.choice.variant

  def replicated(self) -> Runner:
    """This model with its params on every local device and inputs split along the batch
    (`place`); the tuning choice is shared, the compiled programs are not."""
    mesh = jax.make_mesh((jax.local_device_count(),), ("data",))
    params = jax.device_put(self.params, NamedSharding(mesh, PartitionSpec()))
    runner = Runner(self.graphdef, params, self.spec, batch_images=self.batch_images,
                    tune_mode=self.tune_mode, tune_cache=self.tune_cache,
                    input_sharding=NamedSharding(mesh, PartitionSpec("data")),
                    variant=self.fixed_variant, **self.tune_options)
    runner._choice = self._choice
    return runner

  @property
  def input_multiple(self) -> int:
    """Folded inputs per call must be a multiple of this (the devices the batch is split on)."""
    return 1 if self.input_sharding is None else self.input_sharding.mesh.size

  def place(self, inputs: np.ndarray) -> jax.Array:
    """Host inputs copied to the devices the model runs on (waited for)."""
    return jax.block_until_ready(jax.device_put(inputs, self.input_sharding))

  def folded_logits(self, folded_images, prepare=None) -> jax.Array:
    """Device logits (N/f, f·K) of already-folded inputs (N/f, H, W, f·C), uint8 or float.

    Runs the tuned, compiled model without a host round trip (the result is not waited for),
    so a streaming caller can copy the next batch while this one computes. Each new input
    shape compiles once with the tuned variant. `prepare` (hashable: inputs → folded images)
    runs inside the same compiled program, before the model.
    """
    variant = self.variant
    key = (tuple(folded_images.shape), np.dtype(folded_images.dtype))
    if prepare is not None:
      key += (prepare,)
    if key not in self._compiled:
      example = jax.ShapeDtypeStruct(*key[:2])
      self._compiled[key] = execution.compile_forward(self.graphdef, self.params, example,
                                                      self.fold, variant, prepare)
    return self._compiled[key](self.params, folded_images)

  def _bucket(self, num_groups: int) -> int:
    """Folded inputs per call, rounded up to a power of two so few shapes get compiled."""
    return min(1 << max(num_groups - 1, 0).bit_length(), self.batch_images // self.fold)

  def logits(self, images: np.ndarray, order: str = "consecutive") -> np.ndarray:
    """(N, K) float32 logits for unfolded images (N, H, W, C), in the images' order.

    `order` (grouping.EVAL_GROUPINGS) says which images share a folded input. Each chunk of
    `batch_images` is folded, zero-padded to a compiled size, run and unfolded.
    """
    if order != "consecutive" and self.fold > 1:
      permutation = grouping.group_order(len(images), grouping=order, fold=self.fold)
      logits = np.empty((len(images), self.spec.num_classes), np.float32)
      logits[permutation] = self.logits(images[permutation])
      return logits
    outputs = []
    for start in range(0, len(images), self.batch_images):
      chunk = images[start:start + self.batch_images]
      folded = folding.fold(chunk, self.fold)  # zero-pads a ragged chunk to whole groups
      groups = len(folded)
      folded = folding.pad_to(folded, self._bucket(groups))
      logits = np.asarray(self.folded_logits(folded))[:groups]
      outputs.append(folding.unfold(logits, self.fold, num_images=len(chunk)))
    if not outputs:
      return np.zeros((0, self.spec.num_classes), np.float32)
    return np.concatenate(outputs).astype(np.float32)
