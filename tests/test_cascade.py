"""The cascade's threshold search, its evaluation, system throughput and §G."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from foldedcnn_jax import cascade, costs
from foldedcnn_jax.errors import UserInputError

TEN = np.arange(10) * 0.1 + 0.05  # 0.05, 0.15, …, 0.95
MIXED = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1])  # positives at 3, 5, 7..9; negatives at 4, 6


def test_separable_scores_need_no_forwarding():
  thresholds = cascade.choose_thresholds([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1], 0.0,
                                         confidence=0.0)
  assert thresholds == cascade.Thresholds(pytest.approx(0.5), pytest.approx(0.5))


def test_zero_error_forwards_exactly_the_mixed_middle():
  # No error allowed: everything below the first positive (0.35) is negative, everything
  # above the last negative (0.65) positive; thresholds halfway to the neighbours.
  thresholds = cascade.choose_thresholds(TEN, MIXED, 0.0, confidence=0.0)
  assert (thresholds.low, thresholds.high) == (pytest.approx(0.30), pytest.approx(0.70))
  outcome = cascade.evaluate(thresholds, TEN, (TEN > 0.5).astype(int), MIXED)
  assert (outcome.error, outcome.forwarded, outcome.filter_accuracy) == (0.0, 0.4, 0.8)


def test_an_error_budget_is_spent_where_it_saves_most():
  # One error allowed out of 20 frames (0.05): the lone positive at 0.15 costs one false negative
  # and saves forwarding 0.15…0.45; everything else is separable at 0.5.
  probabilities = np.r_[TEN, TEN + 0.001]
  labels = np.r_[[0, 1, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]]
  thresholds = cascade.choose_thresholds(probabilities, labels, 0.05, confidence=0.0)
  assert (thresholds.low, thresholds.high) == (pytest.approx(0.5005), pytest.approx(0.5005))
  strict = cascade.choose_thresholds(probabilities, labels, 0.0, confidence=0.0)
  assert (strict.low, strict.high) == (pytest.approx(0.1005), pytest.approx(0.5005))


def test_search_matches_brute_force_on_random_scores():
  rng = np.random.default_rng(0)
  for trial in range(20):
    labels = rng.integers(0, 2, 30)
    probabilities = np.clip(labels * 0.4 + rng.random(30) * 0.6, 0, 1).round(2)  # with ties
    target = [0.0, 0.05, 0.1][trial % 3]
    chosen = cascade.choose_thresholds(probabilities, labels, target, confidence=0.0)
    values = np.r_[-1.0, np.unique(probabilities), 2.0]
    candidates = (values[1:] + values[:-1]) / 2
    best = min((cascade.evaluate(cascade.Thresholds(low, high), probabilities, labels, labels)
                for low, high in itertools.combinations_with_replacement(candidates, 2)
                if cascade.evaluate(cascade.Thresholds(low, high), probabilities, labels,
                                    labels).error <= target + 1e-12),
               key=lambda outcome: outcome.forwarded)
    outcome = cascade.evaluate(chosen, probabilities, labels, labels)
    assert outcome.error <= target + 1e-12 and outcome.forwarded == best.forwarded


def test_ties_at_zero_and_one_stay_inside_the_cut():
  thresholds = cascade.choose_thresholds([0.0, 0.0, 1.0, 1.0], [0, 1, 0, 1], 0.0, confidence=0.0)
  outcome = cascade.evaluate(thresholds, np.array([0.0, 0.0, 1.0, 1.0]), np.zeros(4),
                             np.array([0, 1, 0, 1]))
  assert (outcome.error, outcome.forwarded) == (0.0, 1.0)


def _binomial_cdf(k: int, count: int, rate: Fraction) -> Fraction:
  return sum(math.comb(count, i) * rate**i * (1 - rate)**(count - i) for i in range(k + 1))


def test_the_error_budget_is_the_clopper_pearson_count():
  # 3,000 calibration frames at 1 %: the largest k with P(Bin(3000, 0.01) <= k) <= 0.05, exactly.
  budget = cascade.error_budget(3000, 0.01, 0.95)
  assert _binomial_cdf(budget, 3000, Fraction(1, 100)) <= Fraction(5, 100)
  assert _binomial_cdf(budget + 1, 3000, Fraction(1, 100)) > Fraction(5, 100)
  assert 15 <= budget < 30 == cascade.error_budget(3000, 0.01, 0.0)
  assert cascade.error_budget(200, 0.01, 0.95) == -1  # 0 of 200 does not show 1 % at 95 %
  assert cascade.error_budget(200, 0.01, 0.0) == 2


def test_a_margin_forwards_more_and_too_few_frames_forward_everything():
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 2, 3000)
  probabilities = labels * 0.3 + rng.random(3000) * 0.7  # overlapping in [0.3, 0.7]
  plain = cascade.choose_thresholds(probabilities, labels, 0.01, confidence=0.0)
  margin = cascade.choose_thresholds(probabilities, labels, 0.01)
  outcomes = [cascade.evaluate(t, probabilities, labels, labels) for t in (plain, margin)]
  assert outcomes[1].forwarded > outcomes[0].forwarded
  assert outcomes[1].error * 3000 <= cascade.error_budget(3000, 0.01, 0.95) < 30
  few = cascade.choose_thresholds(probabilities[:100], labels[:100], 0.01)
  assert cascade.evaluate(few, probabilities[:100], labels[:100], labels[:100]).forwarded == 1.0


def test_bad_calibration_input_is_a_user_error():
  with pytest.raises(UserInputError, match="as many labels"):
    cascade.choose_thresholds([0.1, 0.2], [0], 0.01)
  with pytest.raises(UserInputError, match="target_error"):
    cascade.choose_thresholds([0.1], [0], 1.5)
  with pytest.raises(UserInputError, match="confidence"):
    cascade.choose_thresholds([0.1], [0], 0.01, confidence=1.0)


def test_system_throughput_adds_the_forwarded_reference_cost():
  assert cascade.system_frames_per_second(1000.0, 0.1, 10.0) == pytest.approx(
      1 / (1 / 1000 + 0.1 / 10))
  assert cascade.system_frames_per_second(1000.0, 0.0, 10.0) == pytest.approx(1000.0)


def test_section_g_uses_the_measured_speedup_and_accuracy_gap():
  comparison = cascade.compare_folding(3000.0, 0.93, 1000.0, 0.95, 20.0)
  assert comparison.speedup == pytest.approx(3.0)
  assert comparison.accuracy_gap == pytest.approx(0.02)
  assert comparison.break_even == pytest.approx(costs.system_break_even_ratio(3.0, 0.02))
  assert comparison.reference_over_filter == pytest.approx(1000.0 / 20.0)
  assert comparison.break_even == pytest.approx((1 - 1 / 3) / 0.02)  # 33.3
  assert not comparison.folding_pays  # T_g/T_s = 50: the 2-point loss forwards too much
  assert cascade.compare_folding(3000.0, 0.93, 1000.0, 0.95, 40.0).folding_pays  # 25 < 33.3


def test_no_accuracy_lost_means_folding_pays_whenever_it_is_faster():
  assert cascade.compare_folding(2.0, 0.9, 1.0, 0.9, 1.0).break_even == math.inf
  assert cascade.compare_folding(0.5, 0.95, 1.0, 0.9, 1.0).break_even == 0.0
  assert not cascade.compare_folding(0.5, 0.95, 1.0, 0.9, 1.0).folding_pays
