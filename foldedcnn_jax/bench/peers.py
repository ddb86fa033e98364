"""The strongest peers of the JAX path, from the same layer plan and the same weights.

PyTorch eager (NCHW and channels_last), torch.compile and ONNX Runtime (the JAX model exported
with jax2onnx). Each runs where JAX runs: on a GPU, PyTorch on CUDA and ONNX Runtime through its
CUDA provider, the batch resident on the device as JAX's is (or copied on every call, with
`include_transfer`). Each is optional: `missing` says why one cannot run here (a package not
installed, or no GPU build of it when JAX runs on a GPU). Before any timing, a peer's logits are
checked against JAX's.
"""

from __future__ import annotations

import importlib.util

import jax
import numpy as np
from flax import nnx

from foldedcnn_jax.models import ModelSpec
from foldedcnn_jax.runtime import execution

PEERS = ("torch", "torch_channels_last", "torch_compile", "onnxruntime")
_PACKAGES = {"torch": ("torch",), "torch_channels_last": ("torch",),
             "torch_compile": ("torch",), "onnxruntime": ("onnxruntime", "jax2onnx", "onnx")}
CHECK_INPUTS = 8  # folded inputs whose logits are compared before timing


class PeerMismatch(RuntimeError):
  """A peer computed different logits from JAX's on the same weights and inputs."""


def missing(peer: str) -> str:
  """"" if `peer` can run here, else a note naming what is not installed.

  On a GPU a peer that could only run on the CPU is missing too: a GPU against a CPU is no
  comparison.
  """
  if peer not in PEERS:
    return f"unknown peer {peer!r}; use one of {', '.join(PEERS)}"
  absent = [name for name in _PACKAGES[peer] if importlib.util.find_spec(name) is None]
  if absent:
    return f"{peer} skipped: {', '.join(absent)} not installed"
  if not _on_gpu():
    return ""
  if peer.startswith("torch"):
    import torch

    return "" if torch.cuda.is_available() else f"{peer} skipped: this torch has no CUDA"
  import onnxruntime

  if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
    return f"{peer} skipped: this onnxruntime has no CUDA provider (onnxruntime-gpu)"
  return ""


def _on_gpu() -> bool:
  return jax.devices()[0].platform == "gpu"


def version(peer: str) -> str:
  package = "torch" if peer.startswith("torch") else "onnxruntime"
  return importlib.import_module(package).__version__


def check_logits(peer: str, logits: np.ndarray, reference: np.ndarray, dtype: str) -> float:
  """The max abs difference; raises PeerMismatch beyond the dtype's tolerance."""
  difference = float(np.max(np.abs(np.asarray(logits, np.float32) - reference)))
  tolerance = (1e-3 if dtype == "float32" else 5e-2) * max(1.0, float(np.abs(reference).max()))
  if not difference <= tolerance:
    raise PeerMismatch(f"{peer} logits differ from JAX's by {difference:.3g} "
                       f"(tolerance {tolerance:.3g})")
  return difference


def prepare(peer: str, spec: ModelSpec, model: nnx.Module, host_batch: np.ndarray, *,
            dtype: str = "float32", onnx_file: str = "", include_transfer: bool = False):
  """A blocking call running `peer` on `host_batch` (folded, NHWC uint8), checked first.

  `model` gives the weights; an `onnx_file` is timed as exported (checked by the exporter).
  On a GPU the batch stays on the device unless `include_transfer` copies it on every call.
  """
  if note := missing(peer):
    raise RuntimeError(note)
  if peer == "onnxruntime":
    return _prepare_onnxruntime(model, host_batch, dtype, onnx_file, include_transfer)
  return _prepare_torch(peer, spec, model, host_batch, dtype, include_transfer)


def _reference(model: nnx.Module, folded: np.ndarray) -> np.ndarray:
  graphdef, state = nnx.split(model)
  return np.asarray(jax.jit(execution.forward, static_argnums=0)(graphdef, state, folded),
                    np.float32)


def _prepare_torch(peer, spec, model, host_batch, dtype, include_transfer):
  import torch

  from foldedcnn_jax.bench import torch_reference

  device = torch.device("cuda" if _on_gpu() else "cpu")
  module = torch_reference.build(spec, dtype, nnx_model=model).to(device)
  host = torch_reference.to_nchw(host_batch)
  layout = torch.contiguous_format
  if peer != "torch":  # channels_last, and torch.compile on channels_last
    layout = torch.channels_last
    module = module.to(memory_format=layout)
    host = host.contiguous(memory_format=layout)
  resident = host.to(device)
  if peer == "torch_compile":
    # A fresh, static-shape compile per model: dynamo caches by the shared `forward` code, so
    # after the first model it would compile dynamic-shape graphs, then fall back to eager.
    torch._dynamo.reset()
    module = torch.compile(module, dynamic=False)
  context = torch.no_grad if peer == "torch_compile" else torch.inference_mode

  def call():
    with context():
      logits = module(host.to(device) if include_transfer else resident)
    if device.type == "cuda":
      torch.cuda.synchronize()
    return logits

  # The whole batch (torch.compile would otherwise compile a second, dynamic-shape graph).
  check_logits(peer, call()[:CHECK_INPUTS].float().cpu().numpy(),
               _reference(model, host_batch[:CHECK_INPUTS]), dtype)
  return call


def _prepare_onnxruntime(model, host_batch, dtype, onnx_file, include_transfer):
  from foldedcnn_jax import export

  if onnx_file:
    onnx_session = export.session(onnx_file)
  else:
    graphdef, state = nnx.split(model)
    onnx_session = export.session(export.to_onnx(graphdef, state, model.spec))
    check_logits("onnxruntime", export.run(onnx_session, host_batch)[:CHECK_INPUTS],
                 _reference(model, host_batch[:CHECK_INPUTS]), dtype)
  if include_transfer or not _on_gpu():
    return lambda: export.run(onnx_session, host_batch)
  return export.device_run(onnx_session, host_batch)
