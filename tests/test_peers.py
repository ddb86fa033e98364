"""Peers: same weights, same logits as JAX before any timing; a missing package is a note."""

import importlib.util
import os
import sys

import numpy as np
import pytest

from foldedcnn_jax.bench import peers, runners, sweep
from foldedcnn_jax.models import ModelSpec

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from configs import benchmark as benchmark_config  # noqa: E402


def _inputs(task, fold, images=8):
  spec = ModelSpec.for_task(task, fold=fold)
  return spec, runners.random_model(spec, "float32", 2), runners.random_folded_batch(
      spec, images, seed=3)


@pytest.mark.parametrize("peer", ["torch", "torch_channels_last", "onnxruntime"])
@pytest.mark.parametrize("task, fold", [("v1", 2), ("n2", 4)])
def test_peers_compute_jax_logits_from_the_same_weights(peer, task, fold):
  if peer.startswith("torch"):
    pytest.importorskip("torch")
  spec, model, batch = _inputs(task, fold)
  call = peers.prepare(peer, spec, model, batch)  # raises PeerMismatch if the logits differ
  output = call()
  logits = output.float().numpy() if hasattr(output, "numpy") else output
  reference = peers._reference(model, batch)
  np.testing.assert_allclose(logits, reference, rtol=1e-4, atol=1e-4)


def test_torch_compile_peer_computes_jax_logits():
  pytest.importorskip("torch")
  spec, model, batch = _inputs("tiny", 2, images=4)
  output = peers.prepare("torch_compile", spec, model, batch)()
  np.testing.assert_allclose(output.float().numpy(), peers._reference(model, batch),
                             rtol=1e-4, atol=1e-4)


def test_different_logits_are_refused_before_timing():
  reference = np.array([[1.0, -2.0]], np.float32)
  difference = peers.check_logits("x", reference + 1e-5, reference, "float32")
  assert difference == pytest.approx(1e-5, rel=1e-2)
  with pytest.raises(peers.PeerMismatch, match="x logits differ from JAX's by 0.1"):
    peers.check_logits("x", reference + 0.1, reference, "float32")


def test_a_missing_package_skips_its_peer_with_a_note(tmp_path, monkeypatch):
  real = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *a: None if name == "torch" else real(name, *a))
  assert peers.missing("torch_compile") == "torch_compile skipped: torch not installed"
  assert peers.missing("onnxruntime") == ""
  config = benchmark_config.get_config("runlocal")
  config.out, config.tune = str(tmp_path / "b.csv"), "off"
  config.peers = ("torch", "onnxruntime")
  plan = sweep.plan_sweep(config, platform="cpu")
  assert plan.notes == ("torch skipped: torch not installed",)
  assert [(c.framework, c.fold) for c in plan.cases] == [
      ("jax", 1), ("jax", 2), ("onnxruntime", 1), ("onnxruntime", 2)]
  lines = []
  rows = sweep.run_sweep(plan, progress=lines.append)
  assert "note: torch skipped: torch not installed" in lines
  assert all(row.ok for row in rows)
  assert rows[3].framework == "onnxruntime" and rows[3].speedup_vs_f1 > 0  # vs ORT's own f=1


def test_on_a_gpu_a_peer_without_a_gpu_build_is_skipped_with_a_note(monkeypatch):
  import onnxruntime

  monkeypatch.setattr(peers, "_on_gpu", lambda: True)
  monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
  assert peers.missing("onnxruntime") == (
      "onnxruntime skipped: this onnxruntime has no CUDA provider (onnxruntime-gpu)")
  monkeypatch.setattr(onnxruntime, "get_available_providers",
                      lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
  assert peers.missing("onnxruntime") == ""
  if importlib.util.find_spec("torch") is not None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert peers.missing("torch_compile") == "torch_compile skipped: this torch has no CUDA"
  monkeypatch.setattr(peers, "_on_gpu", lambda: False)
  monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
  assert peers.missing("onnxruntime") == ""  # on a CPU the CPU provider is the peer
