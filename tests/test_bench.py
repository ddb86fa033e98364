import dataclasses
import json
import math
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

from foldedcnn_jax import costs
from foldedcnn_jax.bench import devices, records, runners, sweep, timing
from foldedcnn_jax.bench.xla_costs import xla_cost
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import ModelSpec, create_model, slots
from foldedcnn_jax.runtime import execution

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from configs import benchmark as benchmark_config  # noqa: E402


def _assert_same_records(got, want):
  """Field by field: exact for ints and strings, within float tolerance (NaN = NaN) for floats."""
  for got_row, want_row in zip(got, want, strict=True):
    for field in dataclasses.fields(want_row):
      got_value, want_value = getattr(got_row, field.name), getattr(want_row, field.name)
      if isinstance(want_value, float):
        assert got_value == pytest.approx(want_value, nan_ok=True), field.name
      else:
        assert got_value == want_value, field.name


def tiny_config(tmp_path, **overrides):
  config = benchmark_config.get_config("runlocal")
  config.out = str(tmp_path / "bench.csv")
  config.folds = (1, 2, 3)
  config.batch_sizes = (10,)  # ragged for f = 3: 4 folded inputs hold the 10 images
  config.tune_cache = str(tmp_path / "tune.json")
  for name, value in overrides.items():
    setattr(config, name, value)
  return config


def test_tiny_sweep_writes_well_formed_rows(tmp_path):
  config = tiny_config(tmp_path, compound=True, width_rounding=(1, 4))
  lines = []
  result = sweep.run_sweep(sweep.plan_sweep(config), progress=lines.append)
  assert len(lines) == 1 + len(result) and "[7/7]" in lines[-1]
  written = records.read_csv(config.out)
  _assert_same_records(written, result)
  assert [(r.model, r.fold, r.width_rounding) for r in written] == [
      ("folded", 1, 1), ("folded", 2, 1), ("folded", 3, 1),
      ("folded", 1, 4), ("folded", 2, 4), ("folded", 3, 4), ("compound", 1, 1)]
  for row in written:
    assert row.status == "ok" and row.error == ""
    assert (row.task, row.framework, row.batch_images) == ("tiny", "jax", 10)
    assert row.folded_inputs == -(-10 // row.fold)
    assert (row.dtype, row.dtype_choice, row.platform) == ("float32", "auto", "cpu")
    assert row.jax_version == jax.__version__ and row.trials == 2
    assert 0 < row.images_per_second_min <= row.images_per_second_median
    assert row.images_per_second_median <= row.images_per_second_max
    spec = runners.Case(row.task, row.model, row.fold, row.width_rounding, 10).spec()
    assert row.params == spec.params
    assert row.flops_per_image_model == costs.model_cost(spec, 10, 4).flops_per_image
    assert row.flops_per_second == pytest.approx(
        row.flops_per_image_model * row.images_per_second_median)
    assert row.arithmetic_intensity_xla == pytest.approx(
        row.flops_per_image_xla * 10 / row.bytes_accessed_xla)
    assert row.speedup_vs_f1 == pytest.approx(
        row.images_per_second_median / written[0].images_per_second_median)
  assert written[0].speedup_vs_f1 == 1.0
  assert written[3].params == written[0].params  # C8 is already a multiple of 4
  assert written[4].params > written[1].params  # f = 2: int(8·√2) = 11 rounds up to 12


def test_images_are_counted_per_image_not_per_folded_input(tmp_path, monkeypatch):
  fixed = timing.Timing((0.5, 0.25, 1.0), calls_per_trial=1)
  monkeypatch.setattr(timing, "time_calls", lambda call, **kwargs: (call(), fixed)[1])
  monkeypatch.setattr(timing, "time_interleaved",
                      lambda calls, **kwargs: [(call(), fixed)[1] for call in calls])
  plan = sweep.plan_sweep(tiny_config(tmp_path, folds=(1, 4), batch_sizes=(12,)))
  rows = sweep.measure_group(plan.cases, plan.settings, "test", interleave=True)
  one_by_one = sweep.measure_group(plan.cases, plan.settings, "test", interleave=False)
  assert [r.images_per_second_median for r in one_by_one] == [24.0, 24.0]
  for row in rows:
    assert row.status == "ok"
    assert row.images_per_second_median == 12 / 0.5  # not (12 / f) / 0.5
    assert (row.images_per_second_min, row.images_per_second_max) == (12.0, 48.0)
    assert row.seconds_per_batch_median == 0.5
  assert [row.folded_inputs for row in rows] == [12, 3]


@pytest.mark.parametrize("task", ["n2", "n4", "g32"])
def test_xla_flops_per_image_agree_with_the_cost_model(task):
  for fold in (1, 4):
    spec = ModelSpec.for_task(task, fold=fold)
    batch = 8
    shape = jax.ShapeDtypeStruct((batch // fold, *spec.folded_input_shape), np.uint8)
    graphdef, state = nnx.split(runners.random_model(spec, "float32", 0))
    compiled = execution.compile_forward(graphdef, state, shape, spec.fold)
    xla = xla_cost(compiled)
    model = costs.model_cost(spec, batch, 4).flops_per_image
    # XLA skips the zero taps of SAME padding and adds bias/ReLU/pool ops: a few percent.
    assert xla.flops / batch == pytest.approx(model, rel=0.04)
    assert xla.bytes_accessed > 0


def test_a_failed_configuration_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
  real_create_model = runners.create_model

  def create_model_or_fail(spec, **kwargs):
    if spec.fold == 2:
      raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate\nmore")
    return real_create_model(spec, **kwargs)

  monkeypatch.setattr(runners, "create_model", create_model_or_fail)
  config = tiny_config(tmp_path)
  result = sweep.run_sweep(sweep.plan_sweep(config), progress=lambda line: None)
  written = records.read_csv(config.out)
  assert [r.status for r in written] == ["ok", "failed", "ok"]
  failed = written[1]
  assert failed.error == "RuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate"
  assert math.isnan(failed.images_per_second_median) and math.isnan(failed.speedup_vs_f1)
  assert written[2].speedup_vs_f1 > 0
  assert "FAILED" in sweep.summary_table(result)


def _record(**fields):
  base = dict(task="v1", model="folded", framework="jax", fold=1, width_rounding=1,
              batch_images=1024, folded_inputs=1024, dtype="float16", dtype_choice="auto",
              input_dtype="uint8", includes_transfer=False, micro_batch=0, platform="gpu",
              device_kind="Tesla V100-SXM2-16GB", device_detail="V100", jax_version="0",
              framework_version="0", images_per_second_median=100.0, flops_per_second=1e9)
  return records.BenchRecord(**{**base, **fields})


def test_ratios_use_the_original_cnn_of_the_same_task_batch_and_framework():
  rows = [
      _record(),
      _record(fold=4, images_per_second_median=250.0, flops_per_second=2.8e9),
      _record(fold=4, width_rounding=8, images_per_second_median=300.0, flops_per_second=3e9),
      _record(fold=1, width_rounding=8, images_per_second_median=90.0),
      _record(model="compound", images_per_second_median=50.0, flops_per_second=1e9),
      _record(fold=4, batch_images=64, images_per_second_median=80.0),  # no f=1 at batch 64
      _record(fold=4, framework="torch", images_per_second_median=10.0),  # no torch f=1
      _record(fold=2, status="failed"),
  ]
  records.add_ratios(rows)
  speedups = [row.speedup_vs_f1 for row in rows]
  assert speedups[:5] == [1.0, 2.5, 3.0, 0.9, 0.5]
  assert all(math.isnan(value) for value in speedups[5:])
  assert rows[1].flops_per_second_ratio_vs_f1 == pytest.approx(2.8)


def test_csv_round_trip_and_bad_files(tmp_path):
  rows = [_record(), _record(fold=2, status="failed", error='boom, "quoted"')]
  path = str(tmp_path / "sub" / "bench.csv")
  records.write_csv(rows, path)
  assert os.listdir(tmp_path / "sub") == ["bench.csv"]  # no temp file left behind
  back = records.read_csv(path)
  assert back[1].error == 'boom, "quoted"' and back[1].fold == 2 and not back[1].ok
  assert math.isnan(back[0].compile_seconds) and back[0].includes_transfer is False
  with pytest.raises(UserInputError, match="no benchmark CSV"):
    records.read_csv(str(tmp_path / "missing.csv"))
  (tmp_path / "other.csv").write_text("a,b\n1,2\n")
  with pytest.raises(UserInputError, match="missing columns task, model, framework and"):
    records.read_csv(str(tmp_path / "other.csv"))


def test_time_calls_calibrates_calls_per_trial():
  calls = []
  measured = timing.time_calls(lambda: calls.append(1), trials=3, warmup_calls=2,
                               min_trial_seconds=0.0)
  assert measured.calls_per_trial == 1 and len(calls) == 2 + 1 + 3
  calls.clear()
  measured = timing.time_calls(lambda: calls.append(1), trials=4, warmup_calls=0,
                               min_trial_seconds=10.0, max_calls_per_trial=7)
  assert measured.calls_per_trial == 7 and len(calls) == 1 + 4 * 7
  assert len(measured.seconds_per_call) == 4
  assert measured.rates(10) == tuple(10 / s for s in measured.seconds_per_call)
  with pytest.raises(ValueError):
    timing.time_calls(lambda: None, trials=0)


def test_interleaved_timing_runs_round_robin_and_isolates_a_failing_call():
  order = []

  def call(name, fail_at=None):
    def run():
      order.append(name)
      if len([n for n in order if n == name]) == fail_at:
        raise RuntimeError(f"{name} ran out of memory")
    return run

  results = timing.time_interleaved([call("a"), call("b", fail_at=4), call("c")], trials=3,
                                    warmup_calls=1, min_trial_seconds=0.0, settle_calls=0)
  assert order[:6] == ["a", "a", "b", "b", "c", "c"]  # warm-up and calibration
  assert order[6:] == ["a", "b", "c", "a", "b", "c", "a", "c"]  # b fails in its 2nd trial
  assert isinstance(results[1], RuntimeError) and str(results[1]) == "b ran out of memory"
  assert [len(results[i].seconds_per_call) for i in (0, 2)] == [3, 3]


def test_interleaved_trials_leave_the_cost_of_switching_engines_untimed(monkeypatch):
  """The first call after another configuration's trial is slow (its threads still spin); the
  settle call absorbs it, so each trial times the steady state a deployment sees."""
  clock, last = [0.0], [None]
  monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

  def call(name, seconds):
    def run():
      clock[0] += seconds * (10 if last[0] != name else 1)
      last[0] = name
    return run

  calls = [call("a", 1.0), call("b", 2.0)]
  settled = timing.time_interleaved(calls, trials=3, warmup_calls=1, min_trial_seconds=0.0)
  assert [t.seconds_per_call for t in settled] == [(1.0,) * 3, (2.0,) * 3]
  cold = timing.time_interleaved(calls, trials=3, warmup_calls=1, min_trial_seconds=0.0,
                                 settle_calls=0)
  assert [t.seconds_per_call for t in cold] == [(10.0,) * 3, (20.0,) * 3]
  with pytest.raises(ValueError, match="settle_calls"):
    timing.time_interleaved(calls, settle_calls=-1)


def test_platform_defaults_and_known_devices():
  assert sweep.benchmark_dtype("auto", "gpu") == ("float16", "auto")
  assert sweep.benchmark_dtype("auto", "tpu") == ("bfloat16", "auto")
  assert sweep.benchmark_dtype("auto", "cpu") == ("float32", "auto")
  assert sweep.benchmark_dtype("bfloat16", "cpu") == ("bfloat16", "explicit")
  v100 = devices.known_peaks("Tesla V100-SXM2-16GB")
  assert v100.peak_flops("float16") == 125e12 and v100.bytes_per_second == 900e9
  assert devices.known_peaks("NVIDIA H100 PCIe").name == "NVIDIA H100 PCIe"
  assert devices.known_peaks("NVIDIA H100 80GB HBM3").name == "NVIDIA H100 SXM"
  assert devices.known_peaks("cpu") is None
  assert sweep.resolve_peaks("table", "Tesla V100-PCIE-32GB", "float16")[2] == (
      "table: NVIDIA V100 SXM2")
  assert math.isnan(sweep.resolve_peaks("none", "Tesla V100", "float16")[0])


def test_config_mistakes_are_user_errors(tmp_path):
  for field, value, message in [
      ("tasks", ("v1", "v9"), "unknown task 'v9'"), ("folds", (1, 0), "folds: 0 must be >= 1"),
      ("batch_sizes", ("1k",), "not an integer"), ("dtype", "fp8", "unknown dtype 'fp8'"),
      ("width_rounding", (), "width_rounding is empty"), ("peaks", "guess", "unknown peaks"),
      ("compiler_options", ("xla_cpu_use_xnnpack",), "not key=value"),
      ("trials", 0, "trials >= 1"), ("tune", "sometimes", "unknown tune mode"),
      ("peers", ("tensorrt",), "unknown peer 'tensorrt'"),
      ("compiler_options", ("a=1", "default", "a=1"), "'a=1' is given twice")]:
    with pytest.raises(UserInputError, match=message):
      sweep.plan_sweep(tiny_config(tmp_path, **{field: value}), platform="cpu")
  assert runners.parse_compiler_options("a=true, b=3,c=0.5,d=x,y,e=False") == (
      ("a", True), ("b", 3), ("c", 0.5), ("d", "x,y"), ("e", False))
  assert sweep.parse_option_sets(("default", " t=")) == ((), (("t", ""),))
  assert sweep.parse_option_sets(("default",)) == ((),)


@pytest.mark.parametrize("variant", benchmark_config.VARIANTS)
def test_every_config_variant_makes_a_plan(variant):
  config = benchmark_config.get_config(variant)
  plan = sweep.plan_sweep(config, platform="gpu")
  assert plan.cases and plan.settings.dtype == "float16"
  assert {case.task for case in plan.cases} == set(config.tasks)


def test_benchmark_cli_runs_and_reports_bad_flags_in_one_line(tmp_path):
  out = tmp_path / "cli.csv"
  command = [sys.executable, "-m", "experiments.benchmark",
             "--config=configs/benchmark.py:runlocal", "--folds=1,2", f"--out={out}"]
  done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
  assert done.returncode == 0, done.stderr
  assert "[2/2] tiny f=2 batch=32 tuned[" in done.stdout
  assert f"wrote 2 rows (0 failed) to {out}" in done.stdout
  assert [row.fold for row in records.read_csv(str(out))] == [1, 2]
  for flag, message in [("--folds=1,x", "error: --folds: '1,x' is not a list of ints"),
                        ("--config.nope=1", "error: --config.nope: no such config field"),
                        ("--config.folds=(1,)", "error: --folds and --config.folds both set")]:
    bad = subprocess.run(command + [flag], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in bad.stderr


def test_torch_reference_computes_the_same_logits():
  pytest.importorskip("torch")
  import torch

  from foldedcnn_jax.bench import torch_reference

  for task, fold in (("v1", 2), ("n2", 1)):
    spec = ModelSpec.for_task(task, fold=fold)
    model = runners.random_model(spec, "float32", seed=3)
    batch = runners.random_folded_batch(spec, 4, seed=1)
    expected = np.asarray(model(jax.numpy.asarray(batch)))
    reference = torch_reference.build(spec, nnx_model=model)
    with torch.inference_mode():
      actual = reference(torch_reference.to_nchw(batch)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_random_model_has_the_structure_of_create_model():
  spec = ModelSpec.for_task("tiny", fold=2)
  random = runners.random_model(spec, "float16", seed=0)
  reference = create_model(spec, param_dtype="float16", dtype="float16")
  shapes = lambda model: jax.tree.map(lambda x: (x.shape, x.dtype), nnx.state(model))
  assert shapes(random) == shapes(reference)
  again = runners.random_model(spec, "float16", seed=0)
  assert all(np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(nnx.state(random)), jax.tree.leaves(nnx.state(again)), strict=True))
  assert float(jax.numpy.abs(random.layers[0].kernel[...]).max()) > 0


def test_micro_batches_give_the_same_logits_and_xla_costs_as_the_whole_batch(tmp_path):
  spec = ModelSpec.for_task("tiny", fold=2)
  model = runners.random_model(spec, "float32", seed=0)
  batch = jax.numpy.asarray(runners.random_folded_batch(spec, 20, seed=0))  # 10 folded inputs
  graphdef, state = nnx.split(model)
  whole = execution.compile_forward(graphdef, state, batch, 2)
  chunked = execution.compile_forward(graphdef, state, batch, 2,
                                      execution.Variant(micro_batch=8))  # 3 chunks, 2 padded
  np.testing.assert_allclose(chunked(state, batch), whole(state, batch), rtol=1e-5, atol=1e-6)
  plan = sweep.plan_sweep(tiny_config(tmp_path, folds=(1, 2), batch_sizes=(20,),
                                      micro_batch=(0, 8)))
  rows = sweep.measure_group(plan.cases, plan.settings, "test")
  assert [(row.fold, row.micro_batch) for row in rows] == [(1, 0), (2, 0), (1, 8), (2, 8)]
  assert all(row.ok for row in rows)
  records.add_ratios(rows)
  assert rows[2].speedup_vs_f1 == 1.0  # chunked rows compare with the chunked original
  rows = rows[1::2]
  assert rows[1].flops_per_image_xla == rows[0].flops_per_image_xla
  assert rows[1].bytes_accessed_xla == rows[0].bytes_accessed_xla


def test_option_sets_compile_each_configuration_with_its_own_xla_options(tmp_path):
  # Eigen's kernels instead of XLA:CPU's default YNNPACK fusions: a real, different program.
  eigen = "xla_cpu_experimental_ynn_fusion_type="
  plan = sweep.plan_sweep(tiny_config(tmp_path, folds=(1, 2), batch_sizes=(16,),
                                     compiler_options=("default", eigen)), platform="cpu")
  assert [(case.fold, case.variant.options_text) for case in plan.cases] == [
      (1, ""), (2, ""), (1, eigen), (2, eigen)]
  assert plan.cases[2].label() == f"tiny f=1 batch=16 xla[{eigen}]"
  rows = sweep.measure_group(plan.cases, plan.settings, "test")
  assert all(row.ok for row in rows)
  assert [row.compiler_options for row in rows] == ["", "", eigen, eigen]
  assert [runners.Case.from_record(row) for row in rows] == list(plan.cases)
  records.add_ratios(rows)
  assert rows[0].speedup_vs_f1 == rows[2].speedup_vs_f1 == 1.0  # each set has its own f = 1
  spec = ModelSpec.for_task("tiny", fold=2)
  model = runners.random_model(spec, "float32", seed=0)
  batch = jax.numpy.asarray(runners.random_folded_batch(spec, 16, seed=0))
  graphdef, state = nnx.split(model)
  default = execution.compile_forward(graphdef, state, batch, 2)
  eigen_compiled = execution.compile_forward(graphdef, state, batch, 2,
                                             execution.Variant(((eigen[:-1], ""),)))
  assert "__ynn_fusion" not in eigen_compiled.as_text()
  np.testing.assert_allclose(eigen_compiled(state, batch), default(state, batch),
                             rtol=1e-5, atol=1e-5)


def _timed(fold, images_per_second, **fields):
  record = records.BenchRecord(
      task="v1", model="folded", framework="jax", fold=fold, width_rounding=1, batch_images=64,
      folded_inputs=64 // fold, dtype="float32", dtype_choice="auto", input_dtype="uint8",
      includes_transfer=False, micro_batch=0, platform="cpu", device_kind="cpu",
      device_detail="test", jax_version="0", framework_version="0",
      images_per_second_median=images_per_second, flops_per_second=images_per_second)
  return dataclasses.replace(record, **fields)


def test_fastest_variants_compare_each_model_at_its_best():
  rows = [_timed(1, 100.0), _timed(4, 300.0),
          _timed(1, 200.0, compiler_options="t="), _timed(4, 250.0, compiler_options="t="),
          _timed(1, 150.0, micro_batch=8), _timed(4, 500.0, micro_batch=8),
          _timed(4, 900.0, status="failed"), _timed(1, 50.0, framework="torch"),
          _timed(4, 100.0, framework="torch")]
  records.add_ratios(rows)
  assert [row.speedup_vs_f1 for row in rows[:6]] == [1.0, 3.0, 1.0, 1.25, 1.0, 500 / 150]
  fastest = records.fastest_variants(rows)
  assert [(r.framework, r.fold, r.images_per_second_median, r.compiler_options, r.micro_batch)
          for r in fastest] == [("jax", 1, 200.0, "t=", 0), ("jax", 4, 500.0, "", 8),
                                ("torch", 1, 50.0, "", 0), ("torch", 4, 100.0, "", 0)]
  assert [r.speedup_vs_f1 for r in fastest] == [1.0, 2.5, 1.0, 2.0]
  assert rows[5].speedup_vs_f1 == 500 / 150  # the inputs are left as they were
  _, fastest_table = sweep.summary_table(rows).split("fastest variant")
  assert "v1 f=4 batch=64 chunks=8" in fastest_table


def test_benchmark_runs_without_the_data_libraries(tmp_path):
  # A GPU machine may lack tfds, grain and the video readers: the benchmark must not need them.
  out = tmp_path / "nodata.csv"
  script = (
      "import importlib.abc, runpy, sys\n"
      "BLOCKED = ('tensorflow_datasets', 'grain', 'array_record', 'cv2', 'av', 'orbax')\n"
      "class Block(importlib.abc.MetaPathFinder):\n"
      "  def find_spec(self, name, path=None, target=None):\n"
      "    if name.split('.')[0] in BLOCKED:\n"
      "      raise ImportError(f'blocked {name}')\n"
      "sys.meta_path.insert(0, Block())\n"
      "sys.argv = ['benchmark', '--config=configs/benchmark.py:runlocal', '--folds=1,2',\n"
      f"            '--out={out}']\n"
      "runpy.run_module('experiments.benchmark', run_name='__main__')\n")
  done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]
  assert f"wrote 2 rows (0 failed) to {out}" in done.stdout


def test_narrow_twins_and_embedded_models_get_rows_of_their_own(tmp_path):
  config = tiny_config(tmp_path, narrow=True, embedded=True)
  plan = sweep.plan_sweep(config, platform="cpu")
  assert [(c.model, c.fold) for c in plan.cases] == [
      ("folded", 1), ("folded", 2), ("folded", 3), ("narrow", 2), ("narrow", 3),
      ("embedded", 2), ("embedded", 3)]
  rows = sweep.run_sweep(plan, progress=lambda line: None)
  assert all(row.ok for row in rows)
  by_model = {(row.model, row.fold): row for row in rows}
  for fold in (2, 3):
    narrow, folded = by_model[("narrow", fold)], by_model[("folded", fold)]
    twin = slots.slot_spec(ModelSpec.for_task("tiny", fold=fold))
    assert (narrow.params, narrow.folded_inputs) == (twin.params, 10)  # runs unfolded
    assert narrow.flops_per_image_model == costs.model_cost(twin, 10, 4).flops_per_image
    assert narrow.flops_per_image_model < folded.flops_per_image_model
    assert narrow.speedup_vs_f1 == pytest.approx(
        narrow.images_per_second_median / by_model[("folded", 1)].images_per_second_median)
    embedded = by_model[("embedded", fold)]
    assert (embedded.params, embedded.folded_inputs) == (folded.params, folded.folded_inputs)
  # The embedded model's tuning tried the slot-by-slot variants; the dense one's did not.
  tried = json.loads((tmp_path / "tune.json").read_text())["entries"]
  grouped = {key: any(name in label for label in entry["seconds"] for name in ("slot_groups",))
             for key, entry in tried.items()}
  assert sum(grouped.values()) == 2 and all(("slot_blocks" in key) == g
                                            for key, g in grouped.items())
  assert runners.Case.from_record(by_model[("narrow", 2)]).label().startswith("tiny narrow f=2")
  grouped_task = sweep.plan_sweep(tiny_config(tmp_path, tasks=("tiny", "g32"), narrow=True),
                                  platform="cpu")
  assert not any(c.task == "g32" and c.model == "narrow" for c in grouped_task.cases)
  assert grouped_task.notes == ("no narrow twins for g32: grouped convolutions",)
