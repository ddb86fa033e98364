"""Analytic cost model: operations, memory traffic and arithmetic intensity per layer and model.

Conventions (the seed paper's): operations are 2·MACs of conv and dense layers (bias, ReLU and
pooling are not counted); memory traffic is B·(E_io + E_l) bytes, with E_io the input plus output
activation elements of the whole batch and E_l the weight elements (biases not counted); arithmetic
intensity is operations / memory bytes. A batch of N images is N/f folded inputs.
"""

from __future__ import annotations

import dataclasses
import math

from foldedcnn_jax.models import spec as spec_lib


@dataclasses.dataclass(frozen=True)
class LayerCost:
  """One layer's cost for a whole batch."""

  name: str
  kind: str
  out_shape: tuple[int, ...]
  params: int
  ops: int  # 2·MACs over the batch
  activation_elements: int  # E_io over the batch
  weight_elements: int  # E_l
  bytes_per_element: int

  @property
  def memory_bytes(self) -> int:
    return self.bytes_per_element * (self.activation_elements + self.weight_elements)

  @property
  def arithmetic_intensity(self) -> float:
    return self.ops / self.memory_bytes


def _layer_cost(name, kind, in_shape, out_shape, weight_elements, params, macs_per_input,
                folded_inputs, bytes_per_element) -> LayerCost:
  return LayerCost(
      name=name,
      kind=kind,
      out_shape=tuple(out_shape),
      params=params,
      ops=2 * macs_per_input * folded_inputs,
      activation_elements=folded_inputs * (math.prod(in_shape) + math.prod(out_shape)),
      weight_elements=weight_elements,
      bytes_per_element=bytes_per_element,
  )


@dataclasses.dataclass(frozen=True)
class ModelCost:
  """A whole model's cost for `batch_images` images (`folded_inputs` = ceil(N/f) inputs)."""

  spec: spec_lib.ModelSpec
  batch_images: int
  bytes_per_element: int
  layers: tuple[LayerCost, ...]

  @property
  def folded_inputs(self) -> int:
    return -(-self.batch_images // self.spec.fold)

  @property
  def params(self) -> int:
    return sum(layer.params for layer in self.layers)

  @property
  def ops(self) -> int:
    return sum(layer.ops for layer in self.layers)

  @property
  def flops_per_input(self) -> float:
    return self.ops / self.folded_inputs

  @property
  def flops_per_image(self) -> float:
    return self.flops_per_input / self.spec.fold

  @property
  def memory_bytes(self) -> int:
    return sum(layer.memory_bytes for layer in self.layers)

  @property
  def arithmetic_intensity(self) -> float:
    return self.ops / self.memory_bytes

  def as_dict(self) -> dict:
    """Plain JSON-ready totals and per-layer rows."""
    layers = [
        {**dataclasses.asdict(layer), "memory_bytes": layer.memory_bytes,
         "arithmetic_intensity": layer.arithmetic_intensity} for layer in self.layers
    ]
    return {
        "architecture": self.spec.architecture,
        "input_shape": list(self.spec.input_shape),
        "fold": self.spec.fold,
        "width_multiplier": self.spec.multiplier,
        "width_rounding": self.spec.width_rounding,
        "batch_images": self.batch_images,
        "folded_inputs": self.folded_inputs,
        "bytes_per_element": self.bytes_per_element,
        "params": self.params,
        "flops_per_image": self.flops_per_image,
        "flops_per_input": self.flops_per_input,
        "ops": self.ops,
        "memory_bytes": self.memory_bytes,
        "arithmetic_intensity": self.arithmetic_intensity,
        "layers": layers,
    }


def model_cost(spec: spec_lib.ModelSpec, batch_images: int = 1024,
               bytes_per_element: int = 2) -> ModelCost:
  """Per-layer and total costs of `spec` for a batch of `batch_images` (unfolded) images."""
  if batch_images < 1:
    raise ValueError(f"batch_images must be >= 1, got {batch_images}")
  folded_inputs = -(-batch_images // spec.fold)
  layers = tuple(
      _layer_cost(layer.name, layer.kind, layer.in_shape, layer.out_shape, layer.weight_elements,
                  layer.params, layer.macs, folded_inputs, bytes_per_element)
      for layer in spec.plan())
  return ModelCost(spec, batch_images, bytes_per_element, layers)


def conv_cost(batch: int, height: int, width: int, in_channels: int, out_channels: int,
              kernel: int = 3, groups: int = 1, fold: int = 1, bytes_per_element: int = 2,
              width_multiplier: float | None = None) -> LayerCost:
  """A hidden SAME conv layer, original (fold = 1) or folded (batch/f, channels int(c·√f)).

  This is the seed's Table 1 setting: N images of H×W×C_i in, C_o out.
  """
  multiplier = math.sqrt(fold) if width_multiplier is None else width_multiplier
  widened_in, widened_out = int(in_channels * multiplier), int(out_channels * multiplier)
  weights = kernel * kernel * widened_in * widened_out // groups
  return _layer_cost(
      "conv", "conv", (height, width, widened_in), (height, width, widened_out), weights,
      weights + widened_out, height * width * weights, -(-batch // fold), bytes_per_element)


def conv_memory_elements(nhw: float, in_channels: float, out_channels: float, kernel_h: int,
                         kernel_w: int, fold: float = 1, groups: int = 1) -> float:
  """E_io + E_l of a conv layer, widened by exactly √f (the §J analysis, no truncation)."""
  root = math.sqrt(fold)
  activations = nhw / fold * root * (in_channels + out_channels)
  return activations + kernel_h * kernel_w * fold * in_channels * out_channels / groups


def memory_threshold_nhw(fold: float, in_channels: float, out_channels: float, kernel_h: int,
                         kernel_w: int, groups: int = 1) -> float:
  """§J: folding lowers a conv layer's memory traffic iff N·H·W exceeds this.

  NHW > (f−1)·C_i·K_H·K_W·C_o / (G·(1−1/√f)·(C_i+C_o)).
  """
  if fold <= 1:
    raise ValueError(f"the threshold is defined for fold > 1, got {fold}")
  numerator = (fold - 1) * in_channels * kernel_h * kernel_w * out_channels
  return numerator / (groups * (1 - 1 / math.sqrt(fold)) * (in_channels + out_channels))


def intensity_limit(in_channels: float, out_channels: float, kernel_h: int, kernel_w: int,
                    bytes_per_element: int = 2, groups: int = 1, fold: float = 1) -> float:
  """The batch-limited arithmetic intensity of a conv layer (N → ∞, weights negligible).

  2·K_H·K_W·C_i·C_o / (G·B·(C_i+C_o)), times √f for a layer folded by f.
  """
  per_pixel_ops = 2 * kernel_h * kernel_w * in_channels * out_channels / groups
  return math.sqrt(fold) * per_pixel_ops / (bytes_per_element * (in_channels + out_channels))


def system_break_even_ratio(speedup: float, fraction_to_general: float) -> float:
  """§G: the largest T_g/T_s for which folding the specialized CNN pays at the system level.

  A cascade runs the specialized CNN (time T_s per frame) on every frame and the general model
  (T_g) on a fraction a of them. Folding with speedup x saves T_s·(1−1/x) per frame, which
  exceeds the general model's a·T_g while T_g/T_s < (1/a)·(1−1/x).
  """
  if speedup <= 0 or not 0 < fraction_to_general <= 1:
    raise ValueError("need speedup > 0 and 0 < fraction_to_general <= 1")
  return (1 - 1 / speedup) / fraction_to_general
