"""The GPU suite: its dry run on the CPU end to end, the step plan, deadlines and failures."""

import os
import re
import subprocess
import sys

from configs import gpu_suite as suite_config
from foldedcnn_jax.bench import records, suite

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_dry_run_writes_at_most_8_small_files_and_prints_the_table(tmp_path):
  out = tmp_path / "out"
  result = subprocess.run(
      [sys.executable, "-m", "experiments.gpu_suite", "--config=configs/gpu_suite.py:dry_run",
       f"--out={out}", f"--config.work_dir={tmp_path / 'work'}"],
      cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  files = sorted(os.listdir(out))
  assert len(files) <= 8, files
  for name in files:
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and os.path.isfile(out / name)
    assert os.path.getsize(out / name) <= 16 << 20
  assert {"bench.csv", "train_throughput.csv", "profile.txt", "suite.log"} <= set(files)
  assert "accuracy_speed.png" in files or "no room for accuracy_speed.png" in result.stdout
  statuses = dict(re.findall(r"^(\w+)\s+(ok|failed \(exit \d+\)|timed out|skipped)",
                             result.stdout, re.M))
  assert statuses == {name: "ok" for name in
                      ("sweep", "twins", "peers", "train", "filter_data", "filter_train",
                       "filter", "filter_host", "batch_sweep", "profile", "second_dtype")}
  log = (out / "suite.log").read_text()
  assert re.search(r"^bounds: decode only [\d,]+ frames/s .* end to end [\d,]+ = ", log, re.M)
  rows = records.read_csv(str(out / "bench.csv"))
  jax_rows = {(r.task, r.fold, r.batch_images, r.dtype) for r in rows
              if r.ok and r.framework == "jax"}
  assert {("tiny", 1, 16, "float32"), ("n2", 2, 16, "float32"), ("tiny", 2, 8, "float32"),
          ("tiny", 2, 16, "bfloat16")} <= jax_rows
  twins = {(r.model, r.fold) for r in rows if r.ok and r.task == "tiny" and r.batch_images == 16
           and r.dtype == "float32"}
  assert {("narrow", 2), ("embedded", 2)} <= twins
  assert "kernels of the whole model:" in (out / "profile.txt").read_text()
  assert "tiny,2,device" in (out / "train_throughput.csv").read_text()
  assert re.search(r"^n2\s+[\d,]+\s+[\d,]+\s+\d+\.\d\d", result.stdout, re.M)  # f=2 speedup row


def test_the_gpu_plan_measures_the_issue_s_headline():
  config = suite_config.get_config()
  steps = {step.name: step for step in suite.plan_steps(config, "/out")}
  assert list(steps) == ["sweep", "twins", "peers", "train", "filter_data", "filter_train",
                         "filter", "filter_host", "batch_sweep", "profile", "second_dtype"]
  twins = " ".join(steps["twins"].args)
  assert "--config.narrow=True" in twins and "--config.embedded=True" in twins
  assert "--config.folds=(1,2,4)" in twins and "'g32'" not in twins
  assert all(f"'{task}'" in twins for task in ("v1", "v2", "v3", "v4", "v5", "v6", "n1", "n2",
                                                 "n3", "n4"))
  assert "--config.narrow=False" in " ".join(steps["sweep"].args)  # the sweep stays as it was
  filter_args = " ".join(steps["filter"].args)
  assert "--bounds" in filter_args and "--batch_images=1024" in filter_args
  video = next(a for a in steps["filter_train"].args if a.startswith("--config.data.video="))
  assert video.split("=", 1)[1] in filter_args  # the filter runs over the video it trained on
  assert "--resize" not in filter_args  # auto: on the device
  assert "--resize=host" in steps["filter_host"].args
  assert "--scene_frames_per_chunk=3000" in steps["filter_data"].args
  sweep = " ".join(steps["sweep"].args)
  assert "--config.dtype=float16" in sweep and "--config.batch_sizes=(1024,)" in sweep
  assert "--config.folds=(1,2,3,4)" in sweep and "--config.compound=True" in sweep
  assert all(f"'{task}'" in sweep for task in suite_config.ALL_TASKS)
  assert "--config.trials=10" in sweep and "--config.tune=always" in sweep
  assert "torch_compile" in " ".join(steps["peers"].args)
  # Later steps reuse the sweep's tuning choices instead of tuning again.
  assert all("--config.tune=cached" in steps[name].args
             for name in ("peers", "batch_sweep", "second_dtype"))
  assert "(64,128,256,512,1024,2048)" in " ".join(steps["batch_sweep"].args)
  assert "--config.dtype=bfloat16" in " ".join(steps["second_dtype"].args)
  assert all(f"'{task}'" in " ".join(steps["second_dtype"].args)
             for task in suite_config.ALL_TASKS)
  assert sum(config.step_seconds.values()) - config.step_seconds.plots <= 600
  assert config.deadline_seconds <= 480  # within the issue's 8 minutes


def test_a_failing_or_slow_step_is_logged_and_the_suite_goes_on(tmp_path):
  steps = [suite.Step("broken", "no_such_module_here", (), 30),
           suite.Step("slow", "timeit", ("-n", "1000000000", "pass"), 1),
           suite.Step("fine", "json.tool", ("--help",), 30),
           suite.Step("late", "json.tool", ("--help",), 30)]
  lines = []
  results = suite.run_steps(steps[:3], str(tmp_path), deadline_seconds=60,
                            progress=lines.append)
  assert [r.status for r in results] == ["failed (exit 1)", "timed out", "ok"]
  log = (tmp_path / suite.LOG_FILE).read_text()
  assert "No module named no_such_module_here" in log and "===== slow: timed out" in log
  late = suite.run_steps(steps[3:], str(tmp_path), deadline_seconds=0, progress=lines.append)
  assert late[0].status == "skipped (deadline)"
