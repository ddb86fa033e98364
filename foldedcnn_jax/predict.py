"""A trained checkpoint as a function: uint8 images (N, H, W, C) → labels, probabilities, names.

`load(workdir)` (also `foldedcnn_jax.load`) rebuilds the model from the checkpoint's own record,
so it needs neither the config files nor the data. The predictor checks the images and names
the classes; its `runtime.Runner` folds, pads, runs the tuned compiled model and unfolds;
`folded_logits` runs it on batches that are already folded.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from flax import nnx

from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import cnn
from foldedcnn_jax.models import spec as spec_lib
from foldedcnn_jax.runtime import execution, folding
from foldedcnn_jax.runtime.runner import Runner, softmax


@dataclasses.dataclass(frozen=True)
class Prediction:
  labels: np.ndarray  # (N,) int32 class indices
  probabilities: np.ndarray  # (N, K) float32 softmax
  class_names: tuple[str, ...]  # (N,) the names of `labels`

  def __len__(self) -> int:
    return len(self.labels)


class Predictor:
  """A trained (folded) model with its classes: runs on batches of unfolded uint8 images."""

  def __init__(self, graphdef: nnx.GraphDef, params: nnx.State, spec: spec_lib.ModelSpec,
               class_names: tuple[str, ...], *, task_id: str = "", batch_images: int = 256,
               checkpoint: str = "", config: dict | None = None, tune_mode: str = "cached",
               tune_cache: str | None = None):
    if batch_images < 1:
      raise UserInputError(f"batch_images must be >= 1, got {batch_images}")
    self.runner = Runner(graphdef, params, spec, batch_images=batch_images,
                         tune_mode=tune_mode, tune_cache=tune_cache)
    self.class_names, self.task_id, self.checkpoint = tuple(class_names), task_id, checkpoint
    self.config = config or {}  # the training config saved with the checkpoint

  @property
  def graphdef(self) -> nnx.GraphDef:
    return self.runner.graphdef

  @property
  def params(self) -> nnx.State:
    return self.runner.params

  @property
  def spec(self) -> spec_lib.ModelSpec:
    return self.runner.spec

  @property
  def batch_images(self) -> int:
    return self.runner.batch_images

  @property
  def variant(self) -> execution.Variant:
    """How the model runs: tuned for a full batch of uint8 inputs at the first use."""
    return self.runner.variant

  def folded_logits(self, folded_images, prepare=None) -> jax.Array:
    """Device logits of already-folded inputs (`Runner.folded_logits`)."""
    return self.runner.folded_logits(folded_images, prepare)

  @property
  def fold(self) -> int:
    return self.spec.fold

  @property
  def input_shape(self) -> tuple[int, int, int]:
    return tuple(self.spec.input_shape)

  @classmethod
  def untrained(cls, spec: spec_lib.ModelSpec, class_names: tuple[str, ...], *, seed: int = 0,
                **kwargs) -> Predictor:
    """Random weights: only for timing (e.g. the unfolded f = 1 model next to a folded one)."""
    graphdef, params = nnx.split(cnn.create_model(spec, seed=seed))
    return cls(graphdef, params, spec, class_names, **kwargs)

  def _check(self, images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
      images = images[None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != self.input_shape:
      expected = "x".join(map(str, self.input_shape))
      raise UserInputError(
          f"images must be uint8 (N, {expected.replace('x', ', ')}) for this {expected} model, "
          f"got {images.dtype} {tuple(images.shape)}")
    return images

  def logits(self, images, grouping: str = "consecutive") -> np.ndarray:
    """(N, K) float32 logits for uint8 images (N, H, W, C), in the images' order.

    `grouping` (runtime.grouping.EVAL_GROUPINGS) says which images share a folded input:
    "consecutive" (images t..t+f-1: a live stream, lowest latency), "strided" (image t of f
    equal segments: decorrelated groups of one recording) or "permuted" (the authors'
    evaluation protocol).
    """
    return self.runner.logits(self._check(images), grouping)

  def __call__(self, images, grouping: str = "consecutive") -> Prediction:
    return self._prediction(self.logits(images, grouping))

  def _prediction(self, logits: np.ndarray) -> Prediction:
    probabilities = softmax(logits) if len(logits) else logits
    labels = probabilities.argmax(-1).astype(np.int32)
    return Prediction(labels, probabilities, tuple(self.class_names[i] for i in labels))

  def interleaved(self, streams) -> list[Prediction]:
    """Predictions for several streams (e.g. cameras or game streams), one per stream in frame
    order, where each folded input holds frame t of f different streams (the production setting
    of game scraping). Streams may differ in length; missing frames are zero-padded."""
    streams = [self._check(stream) for stream in streams]
    if not streams:
      return []
    length, count = max(len(stream) for stream in streams), len(streams)
    sets = -(-count // self.fold)  # groups of f streams folded together
    stacked = folding.pad_to(np.stack([folding.pad_to(stream, length) for stream in streams]),
                             sets * self.fold)
    # (set, stream in set, t) → (set, t, stream in set): consecutive f images = one group
    grouped = stacked.reshape(sets, self.fold, length, *self.input_shape).swapaxes(1, 2)
    logits = self.logits(grouped.reshape(-1, *self.input_shape))
    logits = logits.reshape(sets, length, self.fold, -1).swapaxes(1, 2).reshape(
        sets * self.fold, length, -1)
    return [self._prediction(logits[index, :len(stream)])
            for index, stream in enumerate(streams)]

  def accuracy(self, images, labels, grouping: str = "consecutive") -> float:
    """Top-1 accuracy on labelled images folded as `grouping`."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
      raise UserInputError(f"{len(images)} images but {len(labels)} labels")
    if not len(labels):
      return float("nan")
    return float(np.mean(self(images, grouping).labels == labels))


def load(path: str, which: str = "best", batch_images: int = 256, *,
         tune_mode: str = "cached", tune_cache: str | None = None) -> Predictor:
  """The predictor of a workdir's best (or latest) checkpoint, or of a checkpoint directory.

  `tune_mode`: "cached" (default: the tuning cache's variant, tuned once if it has none),
  "always" (tune again) or "off" (XLA's defaults); `tune_cache`: its file (tune.py).
  """
  from foldedcnn_jax.train import checkpoints  # orbax loads only here

  try:
    trained = checkpoints.read_trained_model(path, which)
  except (FileNotFoundError, ValueError) as error:
    raise UserInputError(str(error)) from None
  record = trained.record
  return Predictor(trained.graphdef, trained.params, trained.spec, tuple(record["class_names"]),
                   task_id=record["task"], batch_images=batch_images,
                   checkpoint=trained.checkpoint, config=record.get("config"),
                   tune_mode=tune_mode, tune_cache=tune_cache)
