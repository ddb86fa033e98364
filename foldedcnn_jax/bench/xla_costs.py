"""XLA's own cost analysis of a compiled forward pass (FLOPs, bytes accessed)."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class XlaCost:
  """XLA's count for one call of a compiled computation (NaN where XLA gives none)."""

  flops: float
  bytes_accessed: float

  @property
  def arithmetic_intensity(self) -> float:
    if not self.bytes_accessed or math.isnan(self.bytes_accessed):
      return math.nan
    return self.flops / self.bytes_accessed


def xla_cost(compiled) -> XlaCost:
  """FLOPs and bytes accessed from `compiled.cost_analysis()` (a dict, or a list of dicts).

  XLA counts a loop body once, whatever its trip count: ask a program without `lax.map`.
  """
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  analysis = analysis or {}
  return XlaCost(float(analysis.get("flops", math.nan)),
                 float(analysis.get("bytes accessed", math.nan)))


def kernel_counts(compiled) -> list[tuple[str, int]]:
  """The kernels a compiled program launches: its top-level fusions by kind and its custom calls
  (on a GPU, e.g. cuDNN convolutions and cuBLAS GEMMs), with how many of each."""
  import collections
  import re

  counts: collections.Counter = collections.Counter()
  entry = compiled.as_text().split("\nENTRY ", 1)[-1]
  for line in entry.splitlines():
    target = re.search(r'custom_call_target="([^"]+)"', line)
    if target:
      counts[f"custom-call {target.group(1)}"] += 1
      continue
    fusion = re.search(r"\bfusion\(.*kind=(k\w+)", line)
    if fusion:
      counts[f"fusion {fusion.group(1)}"] += 1
    elif re.search(r"=\s*\S+\s+(convolution|dot)\(", line):
      counts[re.search(r"=\s*\S+\s+(convolution|dot)\(", line).group(1)] += 1
  return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
