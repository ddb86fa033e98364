"""The device a benchmark runs on: its name, default dtype and peak compute and bandwidth.

Peaks come from a small table of known accelerators (vendor datasheet numbers, dense, no
sparsity), from a quick measurement on this machine, or from the user; every record says which.
"""

from __future__ import annotations

import dataclasses
import os
import platform

import jax
import jax.numpy as jnp
import numpy as np

from foldedcnn_jax.bench import timing

# Default compute dtype by platform: half precision on accelerators (the paper's fp16 TensorRT
# setting; TPUs have no fast fp16, so bf16), fp32 on CPUs (no fast half-precision kernels).
DEFAULT_DTYPES = {"gpu": "float16", "cuda": "float16", "rocm": "float16", "tpu": "bfloat16",
                  "cpu": "float32"}


@dataclasses.dataclass(frozen=True)
class DevicePeaks:
  """Peak FLOP/s per compute dtype and peak memory bandwidth (bytes/s)."""

  name: str
  flops_per_second: dict[str, float]
  bytes_per_second: float

  def peak_flops(self, dtype: str) -> float:
    """Peak FLOP/s in `dtype` (falling back to fp32, then to the only number known)."""
    table = self.flops_per_second
    return table.get(dtype) or table.get("float32") or max(table.values())


_T, _G = 1e12, 1e9
# Matched in order by a substring of jax's `device_kind` (so "H100 PCIe" precedes "H100").
KNOWN_DEVICES: tuple[tuple[str, DevicePeaks], ...] = (
    ("V100", DevicePeaks("NVIDIA V100 SXM2", {"float16": 125 * _T, "float32": 15.7 * _T},
                         900 * _G)),
    ("T4", DevicePeaks("NVIDIA T4", {"float16": 65 * _T, "float32": 8.1 * _T}, 320 * _G)),
    ("A100-SXM4-80GB", DevicePeaks("NVIDIA A100 SXM 80GB",
                                   {"float16": 312 * _T, "bfloat16": 312 * _T,
                                    "float32": 19.5 * _T}, 2039 * _G)),
    ("A100", DevicePeaks("NVIDIA A100 40GB", {"float16": 312 * _T, "bfloat16": 312 * _T,
                                              "float32": 19.5 * _T}, 1555 * _G)),
    ("L4", DevicePeaks("NVIDIA L4", {"float16": 121 * _T, "bfloat16": 121 * _T,
                                     "float32": 30.3 * _T}, 300 * _G)),
    ("H100 PCIe", DevicePeaks("NVIDIA H100 PCIe", {"float16": 756 * _T, "bfloat16": 756 * _T,
                                                   "float32": 51 * _T}, 2000 * _G)),
    ("H100", DevicePeaks("NVIDIA H100 SXM", {"float16": 989 * _T, "bfloat16": 989 * _T,
                                             "float32": 67 * _T}, 3350 * _G)),
    ("H200", DevicePeaks("NVIDIA H200 SXM", {"float16": 989 * _T, "bfloat16": 989 * _T,
                                             "float32": 67 * _T}, 4800 * _G)),
    ("TPU v4", DevicePeaks("Google TPU v4", {"bfloat16": 275 * _T, "float32": 275 * _T},
                           1200 * _G)),
    ("TPU v5 lite", DevicePeaks("Google TPU v5e", {"bfloat16": 197 * _T, "float32": 197 * _T},
                                819 * _G)),
)


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
  """What a record says about the device: jax's platform and kind, plus a readable detail."""

  platform: str
  kind: str
  detail: str


def describe(device: jax.Device | None = None) -> DeviceInfo:
  """Platform, device kind and (on CPU) the host's CPU model and core count."""
  device = device or jax.devices()[0]
  detail = device.device_kind
  if device.platform == "cpu":
    detail = f"{_cpu_model()}, {os.cpu_count()} cores"
  return DeviceInfo(device.platform, device.device_kind, detail)


def default_dtype(platform_name: str) -> str:
  """fp16 on GPUs, bf16 on TPUs, fp32 on CPUs."""
  return DEFAULT_DTYPES.get(platform_name, "float32")


def known_peaks(device_kind: str) -> DevicePeaks | None:
  """The datasheet peaks of a known accelerator, or None."""
  for pattern, peaks in KNOWN_DEVICES:
    if pattern.lower() in device_kind.lower():
      return peaks
  return None


def measure_peaks(dtype: str = "float32", seconds: float = 0.5) -> DevicePeaks:
  """Attainable peaks on the default device: a large matmul (FLOP/s) and a large sum (bytes/s).

  Used where no datasheet number is known (CPUs); an estimate, not a vendor peak.
  """
  jnp_dtype = jnp.dtype(dtype)
  size = 2048
  a = jax.device_put(np.ones((size, size), jnp_dtype))
  matmul = jax.jit(lambda x: x @ x).lower(a).compile()
  flops = 2 * size**3 / _best_seconds(lambda: matmul(a).block_until_ready(), seconds)
  elements = 64 * 2**20 // jnp_dtype.itemsize  # 64 MiB: far beyond any cache
  b = jax.device_put(np.ones((elements,), jnp_dtype))
  # A reduction reads every byte once and writes nothing, so no page faults on fresh outputs.
  total = jax.jit(jnp.sum).lower(b).compile()
  bandwidth = b.nbytes / _best_seconds(lambda: total(b).block_until_ready(), seconds)
  kind = jax.devices()[0].device_kind
  return DevicePeaks(f"{kind} (measured)", {dtype: flops}, bandwidth)


def _best_seconds(call, budget: float) -> float:
  """The fastest of a few timed trials of `call` (a peak is a best case, not a median)."""
  measured = timing.time_calls(call, trials=5, warmup_calls=1, min_trial_seconds=budget / 5)
  return min(measured.seconds_per_call)


def _cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as cpuinfo:
      for line in cpuinfo:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()
