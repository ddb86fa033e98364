"""Wall-clock timing of blocking calls: warm up, calibrate calls per trial, time trials."""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Sequence


@dataclasses.dataclass(frozen=True)
class Timing:
  """Seconds per call in each trial (each trial averages `calls_per_trial` calls)."""

  seconds_per_call: tuple[float, ...]
  calls_per_trial: int

  @property
  def median_seconds(self) -> float:
    return statistics.median(self.seconds_per_call)

  def rates(self, items_per_call: float) -> tuple[float, ...]:
    """Items per second in each trial."""
    return tuple(items_per_call / seconds for seconds in self.seconds_per_call)


def time_calls(call: Callable[[], object], *, trials: int = 10, warmup_calls: int = 3,
               min_trial_seconds: float = 0.2, max_calls_per_trial: int = 1000) -> Timing:
  """Times `call` (which must block until its work is done) over `trials` trials.

  After `warmup_calls` untimed calls, the number of calls per trial is chosen so that a trial
  lasts at least `min_trial_seconds`, which keeps timer resolution and dispatch jitter out of
  fast calls; the median and spread over trials then show the run-to-run noise.
  """
  _check(trials, warmup_calls, min_trial_seconds, max_calls_per_trial)
  calls = _calibrate(call, warmup_calls, min_trial_seconds, max_calls_per_trial)
  return Timing(tuple(_trial(call, calls) for _ in range(trials)), calls)


def time_once(call: Callable[[], object]) -> tuple[object, float]:
  """The result of one blocking `call` and its wall seconds: a pass over a stream that cannot
  be repeated cheaply (decoding a video)."""
  start = time.perf_counter()
  result = call()
  return result, time.perf_counter() - start


def _check(trials, warmup_calls, min_trial_seconds, max_calls_per_trial) -> None:
  if trials < 1 or warmup_calls < 0 or min_trial_seconds < 0 or max_calls_per_trial < 1:
    raise ValueError("need trials >= 1, warmup_calls >= 0, min_trial_seconds >= 0 and "
                     "max_calls_per_trial >= 1")


def _calibrate(call, warmup_calls: int, min_trial_seconds: float, max_calls: int) -> int:
  """Warms up, then picks the calls per trial that make a trial last min_trial_seconds."""
  for _ in range(warmup_calls):
    call()
  start = time.perf_counter()
  call()
  one_call = max(time.perf_counter() - start, 1e-9)
  return int(min(max(1, -(-min_trial_seconds // one_call)), max_calls))


def _trial(call, calls: int) -> float:
  """Seconds per call, averaged over `calls` back-to-back calls."""
  start = time.perf_counter()
  for _ in range(calls):
    call()
  return (time.perf_counter() - start) / calls


def time_interleaved(calls: Sequence[Callable[[], object]], *, trials: int = 10,
                     warmup_calls: int = 3, min_trial_seconds: float = 0.2,
                     max_calls_per_trial: int = 1000, settle_calls: int = 1,
                     prune_ratio: float = math.inf, deadline: float = math.inf,
                     on_trial: Callable[[], None] | None = None) -> list[Timing | Exception]:
  """Times several calls round-robin: trial t of every call runs before trial t + 1 of any.

  On a shared machine the load drifts over minutes; interleaving gives every configuration
  the same share of it, so their ratios stay fair. Each trial starts with `settle_calls`
  untimed calls: switching engines has a cost a deployment running one of them never pays
  (the previous engine's worker threads may still spin on the cores, its caches are cold;
  results/README.md, CPU, has the measured effect). A call that raises gets its exception in
  the result and drops out of later rounds; the others go on.

  Bounding the cost (the autotuner): after each round, a call whose median so far is over
  `prune_ratio` × the best median drops out, and no round starts once `time.perf_counter()`
  has passed `deadline` (every call still gets one trial). Either way its `Timing` holds the
  trials it ran. `on_trial` is called after every trial (a progress bar).
  """
  if settle_calls < 0:
    raise ValueError(f"settle_calls must be >= 0, got {settle_calls}")
  if prune_ratio < 1:
    raise ValueError(f"prune_ratio must be >= 1, got {prune_ratio}")
  _check(trials, warmup_calls, min_trial_seconds, max_calls_per_trial)
  results: list[Timing | Exception | None] = [None] * len(calls)
  counts: dict[int, int] = {}
  seconds: dict[int, list[float]] = {}
  for index, call in enumerate(calls):
    try:
      counts[index] = _calibrate(call, warmup_calls, min_trial_seconds, max_calls_per_trial)
      seconds[index] = []
    except Exception as error:  # noqa: BLE001 - e.g. out of memory at run time
      results[index] = error
  timed: dict[int, list[float]] = {}  # every call that ran a trial, pruned or not
  for round_index in range(trials):
    if round_index and time.perf_counter() > deadline:
      break
    for index in list(seconds):
      try:
        for _ in range(settle_calls):
          calls[index]()
        seconds[index].append(_trial(calls[index], counts[index]))
        timed[index] = seconds[index]
      except Exception as error:  # noqa: BLE001
        results[index] = error
        del seconds[index]
        timed.pop(index, None)
      if on_trial is not None:
        on_trial()
    _prune(seconds, prune_ratio)
  for index, values in timed.items():
    results[index] = Timing(tuple(values), counts[index])
  return results


def _prune(seconds: dict[int, list[float]], ratio: float) -> None:
  """Drops (in place) the calls whose median so far is over `ratio` × the best median."""
  if not seconds or math.isinf(ratio):
    return
  medians = {index: statistics.median(values) for index, values in seconds.items()}
  best = min(medians.values())
  for index, median in medians.items():
    if median > ratio * best:
      del seconds[index]
