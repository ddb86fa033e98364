"""Multi-process training: two processes on localhost (CPU, gloo collectives, one device each)
train like one process with the same two devices, each reading only its own rows."""

import os
import re
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from foldedcnn_jax import data, predict
from foldedcnn_jax.train.metrics import TIMING_FIELDS, read_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = 3


def _command(workdir, data_dir, *flags):
  return [sys.executable, "-m", "experiments.train", "--config=configs/tiny.py:quick",
          "--config.fold=2", f"--config.num_epochs={EPOCHS}", f"--config.workdir={workdir}",
          f"--config.data.data_dir={data_dir}", "--config.progress=False",
          "--config.tensorboard=False", *flags]


def _env(devices):
  return {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu",
          "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


def _free_port():
  with socket.socket() as probe:
    probe.bind(("localhost", 0))
    return probe.getsockname()[1]


def test_two_processes_train_like_one(tmp_path):
  data_dir = str(tmp_path / "data")
  data.prepare_dataset("tiny", data.Source(data_dir), progress=False)
  one, two = str(tmp_path / "one"), str(tmp_path / "two")
  reference = subprocess.run(_command(one, data_dir), cwd=ROOT, env=_env(2), capture_output=True,
                             text=True, timeout=300)
  assert reference.returncode == 0, reference.stderr[-2000:]
  coordinator = f"localhost:{_free_port()}"
  processes = [subprocess.Popen(
      _command(two, data_dir, f"--config.distributed.coordinator_address={coordinator}",
               "--config.distributed.num_processes=2", f"--config.distributed.process_id={rank}"),
      cwd=ROOT, env=_env(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for rank in range(2)]
  outputs = [process.communicate(timeout=300) for process in processes]
  for process, (_, stderr) in zip(processes, outputs, strict=True):
    assert process.returncode == 0, stderr[-2000:]
  assert "on 2 device(s) in 2 process(es)" in outputs[0][0]
  reads = [re.search(rf"process {rank}: train (\d+) of 256 images read", stdout)
           for rank, (stdout, _) in enumerate(outputs)]
  assert all(reads), outputs
  counts = [int(match.group(1)) for match in reads]  # each process read only its own rows
  assert sum(counts) == 256 and max(counts) < 256
  records = [read_metrics(path) for path in (one, two)]
  assert len(records[1]) == EPOCHS
  for single, multi in zip(*records, strict=True):
    for key, value in single.items():
      if key not in TIMING_FIELDS:
        assert multi[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
  params = [jax.tree.leaves(predict.load(path, which="latest").params) for path in (one, two)]
  for single, multi in zip(*params, strict=True):
    np.testing.assert_allclose(single, multi, rtol=1e-5, atol=1e-6)
