"""Wall-clock timing of a blocking call: warm up, calibrate calls per trial, time trials."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable


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
  if trials < 1 or warmup_calls < 0 or min_trial_seconds < 0 or max_calls_per_trial < 1:
    raise ValueError("need trials >= 1, warmup_calls >= 0, min_trial_seconds >= 0 and "
                     "max_calls_per_trial >= 1")
  for _ in range(warmup_calls):
    call()
  start = time.perf_counter()
  call()
  one_call = max(time.perf_counter() - start, 1e-9)
  calls = int(min(max(1, -(-min_trial_seconds // one_call)), max_calls_per_trial))
  seconds = []
  for _ in range(trials):
    start = time.perf_counter()
    for _ in range(calls):
      call()
    seconds.append((time.perf_counter() - start) / calls)
  return Timing(tuple(seconds), calls)
