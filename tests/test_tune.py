"""The autotuner: it times the candidates once, caches the choice, and re-tunes when asked to."""

import json

import jax
import numpy as np
import pytest
from flax import nnx

from foldedcnn_jax.bench import runners, timing
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import ModelSpec, slots
from foldedcnn_jax.runtime import execution, slot_groups, tune

CANDIDATES = (execution.Variant(), execution.Variant(micro_batch=4))


def _model(fold=2):
  spec = ModelSpec.for_task("tiny", fold=fold)
  graphdef, state = nnx.split(runners.random_model(spec, "float32", 0))
  example = jax.ShapeDtypeStruct((8, *spec.folded_input_shape), np.uint8)
  return graphdef, state, spec, example


def _choose(path, mode="cached", fold=2, **kwargs):
  graphdef, state, spec, example = _model(fold)
  return tune.choose(graphdef, state, spec, example, mode=mode, cache=tune.TuneCache(str(path)),
                     variants=CANDIDATES, trials=1, min_trial_seconds=0.0, **kwargs)


def _count_timings(monkeypatch):
  calls = []
  real = timing.time_interleaved
  monkeypatch.setattr(timing, "time_interleaved",
                      lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
  return calls


def test_a_second_run_reuses_the_choice_without_timing(tmp_path, monkeypatch):
  calls = _count_timings(monkeypatch)
  path = tmp_path / "tune.json"
  first = _choose(path)
  assert first.source == "tuned" and first.variant in CANDIDATES and len(calls) == 1
  assert set(first.seconds) == {variant.label() for variant in CANDIDATES}
  second = _choose(path)
  assert (second.source, second.variant, len(calls)) == ("cache", first.variant, 1)
  again = _choose(path, mode="always")
  assert again.source == "tuned" and len(calls) == 2
  entries = json.loads(path.read_text())["entries"]
  assert len(entries) == 1 and set(next(iter(entries.values()))) == {"variant", "seconds"}


def test_a_changed_key_re_tunes(tmp_path, monkeypatch):
  calls = _count_timings(monkeypatch)
  path = tmp_path / "tune.json"
  _choose(path, fold=2)
  _choose(path, fold=4)  # another model spec
  _choose(path, fold=2, dtype="bfloat16")  # another compute dtype
  assert len(calls) == 3 and len(json.loads(path.read_text())["entries"]) == 3
  _, _, spec, example = _model(2)
  keys = {tune.tune_key(spec, example.shape[0], "uint8", "float32"),
          tune.tune_key(spec, 16, "uint8", "float32"),
          tune.tune_key(spec, example.shape[0], "float32", "float32")}
  assert len(keys) == 3 and jax.__version__ in next(iter(keys))


@pytest.mark.parametrize("content", ["{not json", '{"version": 1, "entries": []}', "[]"])
def test_a_corrupt_cache_is_reported_and_rebuilt(tmp_path, monkeypatch, content):
  calls = _count_timings(monkeypatch)
  path = tmp_path / "tune.json"
  path.write_text(content)
  with pytest.warns(UserWarning, match="tuning cache .* is corrupt.*rebuilding"):
    choice = _choose(path)
  assert choice.source == "tuned" and len(calls) == 1
  assert _choose(path).source == "cache"  # the rebuilt file reads back


def test_off_runs_xla_defaults_and_every_variant_computes_the_same_logits(tmp_path):
  graphdef, state, spec, example = _model()
  choice = tune.choose(graphdef, state, spec, example, mode="off")
  assert (choice.source, choice.variant) == ("off", execution.Variant())
  assert not (tmp_path / "tune.json").exists()
  batch = jax.numpy.asarray(runners.random_folded_batch(spec, 16, seed=1))
  expected = choice.compiled(state, batch)
  for variant in tune.candidates("cpu", ModelSpec.for_task("v1", fold=2)):
    compiled = execution.compile_forward(graphdef, state, batch, spec.fold, variant)
    np.testing.assert_allclose(compiled(state, batch), expected, rtol=1e-5, atol=1e-5)
  with pytest.raises(UserInputError, match="unknown tune mode 'fast'"):
    tune.check_mode("fast")


def test_candidates_per_platform():
  assert tune.candidates("cpu")[0] == execution.Variant()  # XLA's defaults are always tried
  assert tune.candidates("cuda") == tune.candidates("gpu")
  assert any("xla_gpu_enable_command_buffer" in v.options_text for v in tune.candidates("gpu"))
  assert tune.candidates("tpu") == (execution.Variant(),)


def test_padded_formulations_are_tried_where_a_width_is_off_the_multiple():
  names = lambda spec: [v.formulation for v in tune.candidates("gpu", spec) if v.formulation]
  assert names(ModelSpec.for_task("v1", fold=2)) == ["padded_channels", "padded_input"]  # 45 ch
  assert names(ModelSpec.for_task("v1", fold=1)) == ["padded_input"]  # 32/64 wide, 3 in
  assert names(ModelSpec.for_task("v1", fold=4)) == ["padded_input"]  # 64 wide, 12 in
  assert names(ModelSpec.for_task("g32", fold=2)) == ["dense_groups"]  # grouped convolutions
  assert "dense_groups" not in [v.formulation for v in tune.candidates(
      "cpu", ModelSpec.for_task("g32", fold=2))]
  on_cpu = [v.label() for v in tune.candidates("cpu", ModelSpec.for_task("v1", fold=2))
            if "padded" in v.formulation]  # the input pad lost everywhere on XLA:CPU
  assert on_cpu == ["padded_channels", "xla[xla_cpu_experimental_ynn_fusion_type=] padded_channels"]


@pytest.mark.parametrize("task,fold,formulation", [
    ("v1", 2, "padded_channels"), ("n2", 3, "padded_input"), ("v3", 1, "padded_input"),
    ("g32", 2, "dense_groups"), ("g64", 2, "dense_groups"), ("g64", 3, "dense_groups"),
    ("g32", 2, "padded_channels")])
def test_padded_formulations_compute_the_models_logits(task, fold, formulation):
  spec = ModelSpec.for_task(task, fold=fold)
  graphdef, state = nnx.split(runners.random_model(spec, "float32", 0))
  # Non-zero biases everywhere: a padded channel must still come out exactly zero.
  state = jax.tree.map(lambda a: a + 0.05 * jax.random.normal(jax.random.key(3), a.shape), state)
  batch = jax.numpy.asarray(runners.random_folded_batch(spec, 8 * fold, seed=4))
  expected = execution.forward(graphdef, state, batch)
  padded = execution.forward(graphdef, state, batch, formulation)
  np.testing.assert_allclose(padded, expected, rtol=1e-5, atol=1e-5 * float(abs(expected).max()))
  assert execution.Variant.from_json(execution.Variant((), 0, formulation).to_json()).formulation \
      == formulation


def test_the_default_cache_path_follows_the_environment(tmp_path, monkeypatch):
  monkeypatch.setenv(tune.CACHE_ENV, str(tmp_path / "mine.json"))
  assert tune.TuneCache().path == str(tmp_path / "mine.json")


def _fake_clock_model(monkeypatch, seconds_per_call):
  """A fake clock: compiling a variant costs 1 s, one call of it `seconds_per_call[variant]`."""
  clock, calls = [0.0], {variant: 0 for variant in seconds_per_call}
  monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

  def compile_forward(graphdef, state, example, fold, variant):
    clock[0] += 1.0

    def call(state, batch):
      clock[0] += seconds_per_call[variant]
      calls[variant] += 1
      return jax.numpy.zeros(())
    return call

  monkeypatch.setattr(tune, "compile_forward", compile_forward)
  return calls


SLOW_AND_FAST = {execution.Variant(): 1.0, execution.Variant(micro_batch=4): 1.2,
                 execution.Variant(micro_batch=2): 2.0}


def _tune_on_the_fake_clock(tmp_path, budget_seconds):
  graphdef, state, spec, example = _model()
  return tune.choose(graphdef, state, spec, example, mode="always", progress=False,
                     cache=tune.TuneCache(str(tmp_path / "t.json")), variants=SLOW_AND_FAST,
                     trials=5, min_trial_seconds=0.0, budget_seconds=budget_seconds)


def test_a_candidate_far_slower_than_the_best_stops_after_one_round(tmp_path, monkeypatch):
  calls = _fake_clock_model(monkeypatch, SLOW_AND_FAST)
  choice = _tune_on_the_fake_clock(tmp_path, budget_seconds=1000.0)
  assert choice.variant == execution.Variant()
  # warm-up + calibration, then a settle call and a timed call per round
  assert list(calls.values()) == [2 + 2 * 5, 2 + 2 * 5, 2 + 2 * 1]  # 2.0 > 1.5 x 1.0: pruned
  assert choice.seconds == pytest.approx({"xla defaults": 1.0, "chunks=4": 1.2, "chunks=2": 2.0})
  saved = json.loads((tmp_path / "t.json").read_text())["entries"]
  assert [set(entry) for entry in saved.values()] == [{"variant", "seconds"}]


def test_tuning_stops_compiling_and_timing_when_its_budget_is_spent(tmp_path, monkeypatch):
  calls = _fake_clock_model(monkeypatch, SLOW_AND_FAST)
  choice = _tune_on_the_fake_clock(tmp_path, budget_seconds=1.5)
  # Compiled at t = 1 and 2; the third is past the budget. One round, no more.
  assert list(calls.values()) == [2 + 2, 2 + 2, 0]
  assert choice.variant == execution.Variant() and set(choice.seconds) == {"xla defaults",
                                                                            "chunks=4"}
  with pytest.raises(ValueError, match="prune_ratio must be >= 1"):
    timing.time_interleaved([lambda: None], prune_ratio=0.5)


def _embedded(task, fold, seed=0):
  """A folded model of random weights with a random slot model written into it (no weights
  between slots)."""
  spec = ModelSpec.for_task(task, fold=fold)
  model = runners.random_model(spec, "float32", seed)
  slots.embed_slots(runners.random_model(slots.slot_spec(spec), "float32", seed + 1), model)
  return spec, model


@pytest.mark.parametrize("task,fold", [("tiny", 2), ("v1", 2), ("n2", 3), ("v5", 4)])
def test_slot_groups_compute_an_embedded_models_logits(task, fold):
  # tiny f = 2 and v1 f = 2 have a leftover channel (11, 45 = 2·22 + 1); n2 f = 3 an odd f.
  spec, model = _embedded(task, fold)
  assert slot_groups.is_block_diagonal(model)
  graphdef, state = nnx.split(model)
  batch = jax.numpy.asarray(runners.random_folded_batch(spec, 4 * fold + 1, seed=4))  # ragged
  expected = execution.forward(graphdef, state, batch)
  for formulation in execution.SLOT_GROUPS:
    for micro_batch in (0, 2 * fold):
      compiled = execution.compile_forward(graphdef, state, batch, fold,
                                           execution.Variant((), micro_batch, formulation))
      np.testing.assert_allclose(compiled(state, batch), expected, rtol=1e-5,
                                 atol=1e-5 * float(abs(expected).max()))


def test_slot_groups_are_refused_and_not_offered_for_a_dense_model(tmp_path):
  spec, embedded = _embedded("tiny", 2)
  dense = runners.random_model(spec, "float32", 0)
  assert not slot_groups.is_block_diagonal(dense)
  assert not slot_groups.is_block_diagonal(runners.random_model(
      ModelSpec.for_task("tiny", fold=1), "float32", 0))  # f = 1: nothing to group
  _, one_weight = _embedded("tiny", 2)
  kernel = one_weight.layers[0].kernel  # 11 outputs: slot 0 has 0-4, slot 1 has 5-9
  kernel[...] = kernel[...].at[0, 0, 0, 5].set(0.5)  # slot 0's input → a slot 1 output
  assert not slot_groups.is_block_diagonal(one_weight)
  kernel[...] = kernel[...].at[0, 0, 0, 5].set(0.0).at[0, 0, 0, 10].set(0.5)
  assert slot_groups.is_block_diagonal(one_weight)  # the leftover output 10 feeds nothing
  graphdef, state = nnx.split(dense)
  batch = jax.ShapeDtypeStruct((4, *spec.folded_input_shape), np.uint8)
  with pytest.raises(ValueError, match="needs zero weights between slots"):
    execution.compile_forward(graphdef, state, batch, 2, execution.Variant((), 0, "slot_split"))
  names = lambda blocks: {v.formulation for v in tune.candidates("cpu", spec, blocks)}
  assert not names(False) & set(execution.SLOT_GROUPS)
  assert {"slot_groups", "slot_split"} <= names(True)
  assert tune.tune_key(spec, 4, "uint8", "float32") != tune.tune_key(
      spec, 4, "uint8", "float32", block_diagonal=True)
  assert "slot_blocks" not in tune.tune_key(spec, 4, "uint8", "float32")  # old keys unchanged
  cache = tune.TuneCache(str(tmp_path / "t.json"))
  for model in (embedded, dense):
    graphdef, state = nnx.split(model)
    choice = tune.choose(graphdef, state, spec, batch, mode="always", cache=cache, trials=1,
                         min_trial_seconds=0.0, progress=False)
    tried = {label.split()[-1] for label in choice.seconds}
    assert bool(tried & set(execution.SLOT_GROUPS)) == (model is embedded)
  assert len(json.loads((tmp_path / "t.json").read_text())["entries"]) == 2
