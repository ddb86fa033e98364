"""A plain eager PyTorch (NCHW) implementation of the same layer plan, the CPU speed reference.

Optional: used only when torch is importable (it is not a project dependency). It reads the
same `ModelSpec.plan()` as the NNX model and can copy the NNX model's weights, so the two
compute the same logits and a throughput comparison compares like with like.
"""

from __future__ import annotations

import math

import numpy as np

from foldedcnn_jax.models import spec as spec_lib


def available() -> bool:
  """Whether torch can be imported here."""
  try:
    import torch  # noqa: F401
  except ImportError:
    return False
  return True


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """(before, after) padding of TF/XLA 'SAME' for one spatial dimension."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def build(spec: spec_lib.ModelSpec, dtype: str = "float32", nnx_model=None, seed: int = 0):
  """A torch.nn.Module for `spec`: (N/f, f·C, H, W) uint8 or float → (N/f, f·K) logits.

  With `nnx_model` its weights are copied (HWIO → OIHW, and the first dense layer's rows are
  permuted from NHWC to NCHW flattening order), so both models give the same logits.
  """
  import torch
  from torch import nn
  from torch.nn import functional

  torch_dtype = {"float32": torch.float32, "float16": torch.float16,
                 "bfloat16": torch.bfloat16}[dtype]
  plan = spec.plan()

  class TorchFoldedCNN(nn.Module):
    """The NCHW eager model: conv (SAME) + ReLU, max pool (VALID), flatten, dense + ReLU."""

    def __init__(self):
      super().__init__()
      self.plan = plan
      layers = []
      for layer in plan:
        if layer.kind == "conv":
          layers.append(nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel,
                                  layer.stride, groups=layer.groups))
        elif layer.kind == "dense":
          layers.append(nn.Linear(layer.in_channels, layer.out_channels))
      self.layers = nn.ModuleList(layers)

    def forward(self, x):
      if not torch.is_floating_point(x):
        x = x.to(torch_dtype) * (1.0 / 255.0)
      parametric = iter(self.layers)
      for layer in self.plan:
        if layer.kind == "pool":
          x = functional.max_pool2d(x, layer.kernel, layer.stride)
          continue
        if layer.kind == "conv":
          pad_h = _same_padding(layer.in_shape[0], layer.kernel, layer.stride)
          pad_w = _same_padding(layer.in_shape[1], layer.kernel, layer.stride)
          if layer.stride == 1 and pad_h[0] == pad_h[1] and pad_w[0] == pad_w[1]:
            module = next(parametric)
            x = functional.conv2d(x, module.weight, module.bias, 1, (pad_h[0], pad_w[0]),
                                  1, layer.groups)
          else:
            x = next(parametric)(functional.pad(x, (*pad_w, *pad_h)))
        else:
          x = next(parametric)(torch.flatten(x, 1))
        if not layer.is_output:
          x = functional.relu(x)
      return x

  torch.manual_seed(seed)
  model = TorchFoldedCNN().to(torch_dtype).eval()
  if nnx_model is not None:
    _copy_weights(model, nnx_model, plan)
  return model


def _copy_weights(model, nnx_model, plan) -> None:
  import torch

  torch_layers = iter(model.layers)
  nnx_layers = iter(nnx_model.layers)
  previous = None
  for layer in plan:
    if layer.kind == "pool":
      previous = layer
      continue
    target, source = next(torch_layers), next(nnx_layers)
    kernel = np.asarray(source.kernel[...], dtype=np.float32)
    if layer.kind == "conv":
      weight = kernel.transpose(3, 2, 0, 1)  # HWIO → OIHW
    else:
      weight = kernel.T  # (in, out) → (out, in)
      if len(layer.in_shape) == 1 and previous is not None and previous.kind != "dense":
        height, width, channels = previous.out_shape
        weight = weight.reshape(-1, height, width, channels).transpose(0, 3, 1, 2)
        weight = weight.reshape(-1, math.prod(previous.out_shape))
    with torch.no_grad():
      target.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
      target.bias.copy_(torch.from_numpy(np.array(source.bias[...], dtype=np.float32)))
    previous = layer


def to_nchw(folded_images: np.ndarray):
  """(N/f, H, W, f·C) numpy → a contiguous (N/f, f·C, H, W) torch tensor."""
  import torch

  return torch.from_numpy(np.ascontiguousarray(folded_images.transpose(0, 3, 1, 2)))
