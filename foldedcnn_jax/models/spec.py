"""Architecture strings → layer specs → a concrete, shape-checked layer plan for any fold factor.

Grammar (tokens separated by spaces):
  C<out>[k<kernel>][s<stride>]   conv, SAME padding, ReLU (default 3×3, stride 1)
  G<out>g<groups>[k<k>][s<s>]    grouped conv, same defaults
  B                              shorthand for "C32 C32 C32"
  M[<window>[s<stride>]]         max pool, VALID padding; a bare "M" resolves by the pool policy
  F<out>                         dense, ReLU on all but the last layer

Pool policies for a bare "M" (the authors' experiments):
  "game":    the first and the last M are 3×3 stride 2, every M in between is 3×3 stride 1
  "noscope": every M is 2×2 stride 2
  "explicit": a bare M is an error

The plan is what both the NNX model and the cost model read, so their numbers cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re

from foldedcnn_jax import tasks as tasks_lib
from foldedcnn_jax.errors import FoldFactorError, UserInputError, check_fold_factor


class ArchitectureError(UserInputError):
  """A malformed architecture string, or one that does not fit its input."""


@dataclasses.dataclass(frozen=True)
class Conv:
  channels: int
  kernel: int = 3
  stride: int = 1
  groups: int = 1

  def token(self) -> str:
    head = f"G{self.channels}g{self.groups}" if self.groups > 1 else f"C{self.channels}"
    return head + (f"k{self.kernel}" if self.kernel != 3 else "") + (
        f"s{self.stride}" if self.stride != 1 else "")


@dataclasses.dataclass(frozen=True)
class Pool:
  window: int | None = None  # None until the pool policy resolves it
  stride: int | None = None

  def token(self) -> str:
    return "M" if self.window is None else f"M{self.window}s{self.stride}"


@dataclasses.dataclass(frozen=True)
class Dense:
  features: int

  def token(self) -> str:
    return f"F{self.features}"


LayerSpec = Conv | Pool | Dense

_TOKEN_PATTERNS = (
    (re.compile(r"C(\d+)(?:k(\d+))?(?:s(\d+))?"), "conv"),
    (re.compile(r"G(\d+)g(\d+)(?:k(\d+))?(?:s(\d+))?"), "group"),
    (re.compile(r"M(?:(\d+)(?:s(\d+))?)?"), "pool"),
    (re.compile(r"F(\d+)"), "dense"),
)
_MACROS = {"B": "C32 C32 C32"}
POOL_POLICIES = ("game", "noscope", "explicit")


def _parse_token(token: str) -> LayerSpec:
  for pattern, kind in _TOKEN_PATTERNS:
    match = pattern.fullmatch(token)
    if not match:
      continue
    numbers = [None if g is None else int(g) for g in match.groups()]
    if any(n == 0 for n in numbers if n is not None):
      raise ArchitectureError(f"architecture token {token!r} has a zero size")
    if kind == "conv":
      return Conv(numbers[0], numbers[1] or 3, numbers[2] or 1)
    if kind == "group":
      return Conv(numbers[0], numbers[2] or 3, numbers[3] or 1, groups=numbers[1])
    if kind == "pool":
      window = numbers[0]
      return Pool(window, numbers[1] or window) if window else Pool()
    return Dense(numbers[0])
  raise ArchitectureError(
      f"malformed architecture token {token!r} (expected C<n>, G<n>g<groups>, B, "
      "M[<window>[s<stride>]] or F<n>)")


def _resolve_pools(layers: list[LayerSpec], pool_policy: str) -> list[LayerSpec]:
  if pool_policy not in POOL_POLICIES:
    raise ArchitectureError(f"unknown pool policy {pool_policy!r}; use one of {POOL_POLICIES}")
  pool_positions = [i for i, layer in enumerate(layers) if isinstance(layer, Pool)]
  resolved = list(layers)
  for rank, position in enumerate(pool_positions):
    if layers[position].window is not None:
      continue
    if pool_policy == "noscope":
      resolved[position] = Pool(2, 2)
    elif pool_policy == "game":
      at_edge = rank in (0, len(pool_positions) - 1)
      resolved[position] = Pool(3, 2 if at_edge else 1)
    else:
      raise ArchitectureError("a bare 'M' needs a pool policy; write M<window>s<stride>")
  return resolved


def parse_architecture(text: str, pool_policy: str = "explicit") -> tuple[LayerSpec, ...]:
  """Parses e.g. "C32 M B M C8 M F11" into layer specs with every pool made explicit."""
  tokens = []
  for token in text.split():
    tokens.extend(_MACROS.get(token, token).split())
  if not tokens:
    raise ArchitectureError("empty architecture string")
  layers = _resolve_pools([_parse_token(t) for t in tokens], pool_policy)
  if not isinstance(layers[-1], Dense):
    raise ArchitectureError(f"architecture {text!r} must end with a dense layer F<classes>")
  first_dense = next(i for i, layer in enumerate(layers) if isinstance(layer, Dense))
  if any(not isinstance(layer, Dense) for layer in layers[first_dense:]):
    raise ArchitectureError(f"architecture {text!r} has a conv or pool after a dense layer")
  return tuple(layers)


def format_architecture(layers: tuple[LayerSpec, ...]) -> str:
  """The explicit string form of parsed layers (parses back to the same layers)."""
  return " ".join(layer.token() for layer in layers)


@dataclasses.dataclass(frozen=True)
class LayerPlan:
  """One concrete layer of a (folded) model, for one folded input."""

  kind: str  # "conv" | "pool" | "dense"
  name: str
  in_shape: tuple[int, ...]  # (H, W, C) or (D,)
  out_shape: tuple[int, ...]
  kernel: int = 1
  stride: int = 1
  groups: int = 1
  is_output: bool = False

  @property
  def in_channels(self) -> int:
    return self.in_shape[-1] if self.kind != "dense" else math.prod(self.in_shape)

  @property
  def out_channels(self) -> int:
    return self.out_shape[-1]

  @property
  def weight_elements(self) -> int:
    """Weights without biases (what the cost model counts as E_l)."""
    if self.kind == "conv":
      return self.kernel * self.kernel * self.in_channels * self.out_channels // self.groups
    if self.kind == "dense":
      return self.in_channels * self.out_channels
    return 0

  @property
  def params(self) -> int:
    return self.weight_elements + (self.out_channels if self.kind != "pool" else 0)

  @property
  def macs(self) -> int:
    """Multiply-accumulates for one folded input."""
    if self.kind == "conv":
      height, width = self.out_shape[:2]
      return height * width * self.weight_elements
    return self.weight_elements  # dense; 0 for pooling


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Everything that fixes a model's structure: architecture, input, fold factor, widening."""

  architecture: str
  input_shape: tuple[int, int, int]  # (H, W, C) of one unfolded image
  pool_policy: str = "explicit"
  fold: int = 1
  width_multiplier: float | None = None  # None: sqrt(fold), as the paper
  width_rounding: int = 1  # round widened channels up to a multiple of this

  def __post_init__(self):
    check_fold_factor(self.fold)
    if self.width_rounding < 1:
      raise ArchitectureError(f"width_rounding must be >= 1, got {self.width_rounding}")
    if self.width_multiplier is not None and self.width_multiplier <= 0:
      raise ArchitectureError(f"width_multiplier must be > 0, got {self.width_multiplier}")
    self.plan()  # fail fast on a malformed string or one too deep for the input

  @classmethod
  def for_task(cls, task: tasks_lib.Task | str, **overrides) -> ModelSpec:
    task = tasks_lib.get_task(task) if isinstance(task, str) else task
    fields = dict(architecture=task.architecture, input_shape=task.input_shape,
                  pool_policy=task.pool_policy)
    return cls(**{**fields, **overrides})

  @functools.cached_property  # fields are frozen, so parse and plan once per spec
  def layers(self) -> tuple[LayerSpec, ...]:
    return parse_architecture(self.architecture, self.pool_policy)

  @property
  def num_classes(self) -> int:
    """K: logits per image (the last dense layer's width in the unfolded model)."""
    return self.layers[-1].features

  @property
  def multiplier(self) -> float:
    return math.sqrt(self.fold) if self.width_multiplier is None else self.width_multiplier

  @property
  def folded_input_shape(self) -> tuple[int, int, int]:
    height, width, channels = self.input_shape
    return (height, width, self.fold * channels)

  def widen(self, channels: int, groups: int = 1) -> int:
    """A hidden layer's width in the folded model: int(c·multiplier), rounded up if asked."""
    widened = max(int(channels * self.multiplier), 1)
    multiple = math.lcm(self.width_rounding, groups)
    return -(-widened // multiple) * multiple

  def plan(self) -> tuple[LayerPlan, ...]:
    """The concrete layers for one folded input, with shapes; raises if the input is too small."""
    return self._plan

  @functools.cached_property
  def _plan(self) -> tuple[LayerPlan, ...]:
    shape: tuple[int, ...] = self.folded_input_shape
    plans, counts = [], {"conv": 0, "pool": 0, "dense": 0}
    layers = self.layers
    for index, layer in enumerate(layers):
      is_output = index == len(layers) - 1
      if isinstance(layer, Conv):
        kind = "conv"
        if shape[-1] % layer.groups:
          raise ArchitectureError(f"{layer.token()}: {shape[-1]} input channels do not split "
                                  f"into {layer.groups} groups")
        # Round up so this layer's and the next grouped conv's channels split into groups.
        consumer = next((later for later in layers[index + 1:] if not isinstance(later, Pool)),
                        None)
        next_groups = consumer.groups if isinstance(consumer, Conv) else 1
        out = self.widen(layer.channels, math.lcm(layer.groups, next_groups))
        out_shape = (-(-shape[0] // layer.stride), -(-shape[1] // layer.stride), out)
        extra = dict(kernel=layer.kernel, stride=layer.stride, groups=layer.groups)
      elif isinstance(layer, Pool):
        kind = "pool"
        if shape[0] < layer.window or shape[1] < layer.window:
          raise ArchitectureError(
              f"{self.architecture!r} is too deep for a {self.input_shape[0]}x"
              f"{self.input_shape[1]} input: {layer.token()} meets a {shape[0]}x{shape[1]} map")
        out_shape = tuple((n - layer.window) // layer.stride + 1 for n in shape[:2]) + shape[2:]
        extra = dict(kernel=layer.window, stride=layer.stride)
      else:
        kind = "dense"
        shape = (math.prod(shape),)
        out = self.fold * layer.features if is_output else self.widen(layer.features)
        out_shape = (out,)
        extra = {}
      counts[kind] += 1
      plans.append(LayerPlan(kind, f"{kind}{counts[kind]}", shape, out_shape,
                             is_output=is_output, **extra))
      shape = out_shape
    return tuple(plans)

  @property
  def params(self) -> int:
    return sum(layer.params for layer in self.plan())


def compound_scaled(spec: ModelSpec, depth: float = 1.2, width: float = 1.1,
                    resolution: float = 1.15) -> ModelSpec:
  """The EfficientNet-style compound-scaling baseline (φ = 1: about 2× FLOPs, as f = 2).

  Each run of consecutive convs of n layers becomes ceil(n·depth) layers (EfficientNet's
  depth rule), every hidden conv/dense width c becomes ceil(c·width), and the input
  H, W become ceil(H·resolution), ceil(W·resolution). The classifier keeps K outputs.
  """
  if spec.fold != 1:
    raise FoldFactorError("compound scaling is a baseline for the original (fold = 1) model")
  layers, scaled, run = spec.layers, [], []

  def flush():
    if run:
      # Keep the run's own layers and repeat its last one to reach ceil(n·depth) layers.
      scaled.extend(run + [run[-1]] * (math.ceil(len(run) * depth) - len(run)))
      run.clear()

  for index, layer in enumerate(layers):
    if isinstance(layer, Conv):
      run.append(dataclasses.replace(layer, channels=math.ceil(layer.channels * width)))
      continue
    flush()
    if isinstance(layer, Dense) and index != len(layers) - 1:
      layer = Dense(math.ceil(layer.features * width))
    scaled.append(layer)
  height, width_px, channels = spec.input_shape
  return dataclasses.replace(
      spec,
      architecture=format_architecture(tuple(scaled)),
      input_shape=(math.ceil(height * resolution), math.ceil(width_px * resolution), channels),
      pool_policy="explicit",
  )
