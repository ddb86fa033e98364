"""The NoScope cascade a filter feeds, and §G with measured numbers.

The filter answers a frame itself when it is confident (probability < low: no object; > high:
object) and forwards the frames in between to the reference model, whose answers the labels
stand in for. The thresholds are the pair that forwards the fewest calibration frames while the
cascade's error (wrong confident answers / all frames) stays within the target — with a
confidence margin: the count of wrong answers allowed is the largest whose one-sided
Clopper-Pearson upper bound is still within the target, so that the error on new frames stays
within it too, not only on the frames the thresholds were fitted to.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from foldedcnn_jax import costs
from foldedcnn_jax.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class Thresholds:
  low: float  # probability < low: answered "no object" by the filter
  high: float  # probability > high: answered "object"; the rest goes to the reference model


@dataclasses.dataclass(frozen=True)
class CascadeOutcome:
  """The cascade on one labelled range of frames."""

  frames: int
  filter_accuracy: float  # the filter's own decisions (argmax), nothing forwarded
  error: float  # wrong answers of the cascade / frames
  forwarded: float  # fraction of frames sent to the reference model


def error_budget(count: int, target_error: float, confidence: float) -> int:
  """How many wrong answers among `count` calibration frames still show, at `confidence`, an
  error rate <= target_error: the largest k with P(Binomial(count, target_error) <= k) <=
  1 - confidence (k errors' Clopper-Pearson upper bound is then <= target_error); -1 when not
  even 0 errors do (too few frames). confidence 0: the plain floor(target_error · count)."""
  plain = math.floor(target_error * count + 1e-9)
  if confidence <= 0 or target_error <= 0:
    return plain
  log_p, log_q = math.log(target_error), math.log1p(-target_error)
  log_n_factorial = math.lgamma(count + 1)
  cdf, budget = 0.0, -1
  for k in range(plain + 1):  # the bound passes target_error before k reaches the mean
    cdf += math.exp(log_n_factorial - math.lgamma(k + 1) - math.lgamma(count - k + 1)
                    + k * log_p + (count - k) * log_q)
    if cdf > 1 - confidence:
      break
    budget = k
  return budget


def choose_thresholds(probabilities, labels, target_error: float,
                      confidence: float = 0.95) -> Thresholds:
  """The (low, high) forwarding the fewest frames with at most `error_budget` wrong answers on
  these frames (confidence 0: error <= target_error on these frames).

  Thresholds sit halfway between neighbouring distinct probabilities (0 and 1 at the ends), so
  a cut never splits tied frames. Ties in forwarding go to the lower error.
  """
  probabilities, labels = np.asarray(probabilities, np.float64), np.asarray(labels)
  if len(probabilities) != len(labels) or not len(labels):
    raise UserInputError(f"need as many labels as probabilities (and some), got "
                         f"{len(labels)} and {len(probabilities)}")
  if not 0 <= target_error < 1:
    raise UserInputError(f"target_error must be in [0, 1), got {target_error}")
  if not 0 <= confidence < 1:
    raise UserInputError(f"confidence must be in [0, 1), got {confidence}")
  order = np.argsort(probabilities, kind="stable")
  values, positive = probabilities[order], labels[order] == 1
  count = len(values)
  # Cut k: the frames at sorted positions < k are below it. Only cuts between distinct values.
  cuts = np.flatnonzero(np.r_[True, values[1:] > values[:-1], True])
  false_negatives = np.r_[0, np.cumsum(positive)][cuts]  # positives below a low cut
  false_positives = (~positive).sum() - np.r_[0, np.cumsum(~positive)][cuts]  # negatives above
  budget = error_budget(count, target_error, confidence)
  if budget < 0:  # too few frames to show the target: the reference model answers them all
    return Thresholds(_between(values, 0), _between(values, count))
  best = None
  for i, low_cut in enumerate(cuts):
    remaining = budget - false_negatives[i]
    if remaining < 0:
      break  # false negatives only grow with the low cut
    # The first high cut >= low cut whose false positives fit (they fall as the cut rises).
    j = i + int(np.argmax(false_positives[i:] <= remaining))
    key = (cuts[j] - low_cut, false_negatives[i] + false_positives[j])
    if best is None or key < best[0]:
      best = (key, low_cut, cuts[j])
  _, low_cut, high_cut = best
  return Thresholds(_between(values, low_cut), _between(values, high_cut))


def _between(values: np.ndarray, cut: int) -> float:
  """Halfway between the values either side of sorted position `cut`; 0 or 1 (or just beyond
  the data when it touches them) at the ends."""
  if cut == 0:
    return float(min(0.0, np.nextafter(values[0], -np.inf)))
  if cut == len(values):
    return float(max(1.0, np.nextafter(values[-1], np.inf)))
  return float((values[cut - 1] + values[cut]) / 2)


def evaluate(thresholds: Thresholds, probabilities, decisions, labels) -> CascadeOutcome:
  """The cascade's error and forwarded fraction on labelled frames (labels answer forwards)."""
  probabilities, decisions, labels = map(np.asarray, (probabilities, decisions, labels))
  if not len(labels):
    raise UserInputError("the cascade needs at least one labelled frame")
  negative, positive = probabilities < thresholds.low, probabilities > thresholds.high
  wrong = (negative & (labels == 1)) | (positive & ~negative & (labels == 0))
  return CascadeOutcome(len(labels), float(np.mean(decisions == labels)),
                        float(np.mean(wrong)), float(np.mean(~negative & ~positive)))


def system_frames_per_second(filter_frames_per_second: float, forwarded: float,
                             reference_images_per_second: float) -> float:
  """Frames/s of filter + reference: every frame costs 1/F, a forwarded one also 1/R."""
  return 1 / (1 / filter_frames_per_second + forwarded / reference_images_per_second)


@dataclasses.dataclass(frozen=True)
class FoldingComparison:
  """§G for a folded filter against an unfolded one, from measured numbers."""

  speedup: float  # x: folded frames/s over unfolded frames/s, both end to end
  accuracy_gap: float  # a: unfolded accuracy minus folded accuracy
  break_even: float  # folding pays at the system level while T_g/T_s is below this
  reference_over_filter: float  # the measured T_g/T_s (T_s: the unfolded filter per frame)

  @property
  def folding_pays(self) -> bool:
    return self.reference_over_filter < self.break_even


def compare_folding(folded_frames_per_second: float, folded_accuracy: float,
                    unfolded_frames_per_second: float, unfolded_accuracy: float,
                    reference_images_per_second: float) -> FoldingComparison:
  """§G with x and a measured: `costs.system_break_even_ratio(x, a)` against the measured
  T_g/T_s. No accuracy lost (a <= 0) means folding pays whenever it is faster."""
  speedup = folded_frames_per_second / unfolded_frames_per_second
  gap = unfolded_accuracy - folded_accuracy
  if gap > 0:
    break_even = costs.system_break_even_ratio(speedup, min(gap, 1.0))
  else:
    break_even = math.inf if speedup > 1 else 0.0
  return FoldingComparison(speedup, gap, break_even,
                           unfolded_frames_per_second / reference_images_per_second)
