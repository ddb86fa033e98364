"""Small shared pieces of the data package: the data source, the error type, the data dir and
seeds (atomic writes live in foldedcnn_jax/files.py)."""

from __future__ import annotations

import dataclasses
import os
import tempfile

import numpy as np

from foldedcnn_jax.errors import UserInputError

SPLITS = ("train", "val", "test")

# How the f images of one folded training input are chosen: "independent" records from all over
# the split (the paper), "consecutive" records of the split (for a video: f consecutive frames, as
# a filter folds a stream), or "mix": each group consecutive with probability `consecutive_share`.
TRAIN_GROUPINGS = ("independent", "consecutive", "mix")


class DatasetError(UserInputError):
  """Bad data input (missing file, malformed CSV, short video, unwritable dir): one clear line."""


@dataclasses.dataclass(frozen=True)
class TrainGroups:
  """How a training epoch folds its images: f images to one input, chosen as `grouping`
  (TRAIN_GROUPINGS; "mix" keeps a group consecutive with probability `consecutive_share`), and
  the two multi-input tricks of MIMO networks (Havasi et al., ICLR 2021):

  input_repetition  ρ: each group holds one image f times with this probability
  batch_repetition  R: each batch of B images is followed by R − 1 shuffles of itself, so a
                    step trains on R·B images and every image meets other partners in other
                    slots (independent groups only)
  """

  fold: int = 1
  grouping: str = "independent"
  consecutive_share: float = 0.5
  input_repetition: float = 0.0
  batch_repetition: int = 1

  def __post_init__(self):
    if self.grouping not in TRAIN_GROUPINGS:
      raise DatasetError(f"unknown training grouping {self.grouping!r}; use one of "
                         f"{', '.join(TRAIN_GROUPINGS)}")
    if (isinstance(self.batch_repetition, bool) or not isinstance(self.batch_repetition, int)
        or self.batch_repetition < 1):
      raise DatasetError(f"batch_repetition must be an integer >= 1, got "
                         f"{self.batch_repetition!r}")
    if self.batch_repetition > 1 and self.fold > 1 and self.grouping != "independent":
      raise DatasetError(f"batch repetition reshuffles a batch's images, which {self.grouping} "
                         "groups keep together: use the independent grouping")


def default_data_dir() -> str:
  """`$FOLDEDCNN_DATA_DIR` if set, else "data" (relative to the working directory; gitignored)."""
  return os.environ.get("FOLDEDCNN_DATA_DIR") or "data"


@dataclasses.dataclass(frozen=True)
class Source:
  """Which data of a task to build or read; every function of `foldedcnn_jax.data` takes one.

  data_dir     where datasets live ("" or None → $FOLDEDCNN_DATA_DIR or ./data)
  scale        fraction of the paper's train split to generate (NoScope: below 1, 1/scale is
               the frame stride of the train chunk; above 1, further chunks of the video away
               from val and test, `noscope.chunk_plan`)
  eval_scale   the same for val and test; 1.0 keeps them at the paper's size, so a scaled-down
               training run is still measured on the full evaluation sets
  seed         dataset generation (game/toy images, the scene video) and shuffle order
  video, labels_csv   NoScope: a real video and its label CSV (None → the synthetic scene)
  image_folder the authors' released images, <root>/<task>/{train,val,test}/<class>/*.png
  """

  data_dir: str | None = None
  scale: float = 1.0
  eval_scale: float = 1.0
  seed: int = 0
  video: str | None = None
  labels_csv: str | None = None
  image_folder: str | None = None

  @classmethod
  def from_config(cls, data_config) -> Source:
    """The source named by a training config's `data` fields (a ConfigDict or a dict of them;
    "" means unset)."""
    fields = {field.name: data_config[field.name] for field in dataclasses.fields(cls)}
    return cls(**{name: value or None for name, value in fields.items()
                  if name in ("data_dir", "video", "labels_csv", "image_folder")},
               scale=float(fields["scale"]), eval_scale=float(fields["eval_scale"]),
               seed=int(fields["seed"]))

  def split_scale(self, split: str) -> float:
    """The scale a split is generated at: `scale` for train, `eval_scale` for val and test."""
    return self.scale if check_split(split) == "train" else self.eval_scale

  @property
  def root(self) -> str:
    return self.data_dir or default_data_dir()


def check_split(split: str) -> str:
  if split not in SPLITS:
    raise DatasetError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
  return split


def check_scale(scale: float, name: str = "scale") -> float:
  if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 100:
    raise DatasetError(f"{name} must be a number in (0, 100], got {scale!r}")
  return float(scale)


def scaled_count(count: int, scale: float) -> int:
  """Examples kept out of `count` at `scale` (at least one, so no class ever vanishes)."""
  return max(1, int(round(count * scale)))


def image_seed(seed: int, split: str, class_index: int, index: int) -> np.random.SeedSequence:
  """The seed of one generated image: distinct for every (seed, split, class, index).

  SeedSequence hashes its entropy words, so two images of different splits never share a
  stream, and image i of a class is the same at every scale (a small split is a prefix).
  """
  return np.random.SeedSequence([seed, SPLITS.index(split), class_index, index])


def image_rng(seed: int, split: str, class_index: int, index: int) -> np.random.Generator:
  return np.random.Generator(np.random.PCG64(image_seed(seed, split, class_index, index)))


def ensure_writable_dir(path: str) -> str:
  """Creates `path` if needed and proves it is writable, or raises one clear DatasetError."""
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=".write-probe-"):
      pass
  except OSError as error:
    raise DatasetError(f"data dir {path!r} is not writable: {error.strerror or error}") from None
  return path
