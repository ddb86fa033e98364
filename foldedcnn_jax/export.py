"""ONNX export of a FoldedCNN (jax2onnx), and ONNX Runtime sessions to run the exported file.

The exported graph takes folded images (batch/f, H, W, f·C) — uint8 scaled to [0, 1] inside
the graph, or float already in [0, 1] — with a dynamic batch axis, and returns (batch/f, f·K)
logits, slot j·K:(j+1)·K for image j of each group. Metadata properties name the task, the
model spec and the classes, so the file alone says how to fold and unfold.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import jax
import numpy as np
from flax import nnx

from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.models import ModelSpec
from foldedcnn_jax.runtime import execution

INPUT_NAME, OUTPUT_NAME = "folded_images", "logits"
INPUT_DTYPES = ("uint8", "float32")


def to_onnx(graphdef: nnx.GraphDef, state: nnx.State, spec: ModelSpec, *, task_id: str = "",
            class_names: tuple[str, ...] = (), input_dtype: str = "uint8"):
  """The model as an onnx.ModelProto with a dynamic batch axis (see the module docstring)."""
  import jax2onnx  # the exporter loads only when exporting

  if input_dtype not in INPUT_DTYPES:
    raise UserInputError(f"input dtype {input_dtype!r}: use one of {', '.join(INPUT_DTYPES)}")
  logging.getLogger("onnx_ir").setLevel(logging.ERROR)  # per-constant shape notes
  example = jax.ShapeDtypeStruct(("batch", *spec.folded_input_shape), np.dtype(input_dtype))
  model = jax2onnx.to_onnx(lambda x: execution.forward(graphdef, state, x), [example],
                           model_name=f"foldedcnn_{task_id or 'model'}_f{spec.fold}",
                           input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
  metadata = {
      "task": task_id, "fold": str(spec.fold), "architecture": spec.architecture,
      "input_shape": json.dumps(list(spec.input_shape)), "pool_policy": spec.pool_policy,
      "width_multiplier": json.dumps(spec.width_multiplier),
      "width_rounding": str(spec.width_rounding), "class_names": json.dumps(list(class_names)),
      "input": f"{INPUT_NAME}: (batch/f, H, W, f*C) {input_dtype} folded images"
               + (" (0..255, scaled in the graph)" if input_dtype == "uint8" else " in [0, 1]"),
      "output": f"{OUTPUT_NAME}: (batch/f, f*K) float32; slot j*K:(j+1)*K is image j of a group",
  }
  for key, value in metadata.items():
    entry = model.metadata_props.add()
    entry.key, entry.value = key, value
  return model


def read_metadata(model_or_path) -> dict[str, str]:
  """The metadata properties of an exported model (an onnx.ModelProto or a file path)."""
  import onnx

  model = onnx.load(model_or_path) if isinstance(model_or_path, str) else model_or_path
  return {entry.key: entry.value for entry in model.metadata_props}


def spec_from_metadata(metadata: dict[str, str]) -> ModelSpec:
  """The ModelSpec an exported file was written from."""
  try:
    return ModelSpec(metadata["architecture"], tuple(json.loads(metadata["input_shape"])),
                     metadata["pool_policy"], int(metadata["fold"]),
                     json.loads(metadata["width_multiplier"]), int(metadata["width_rounding"]))
  except KeyError as missing:
    raise UserInputError(f"not a FoldedCNN export: no {missing} metadata") from None


def session(model_or_path, *, providers: tuple[str, ...] | None = None):
  """An ONNX Runtime InferenceSession (CUDA provider first where installed, then CPU)."""
  import onnxruntime

  if providers is None:
    available = onnxruntime.get_available_providers()
    providers = tuple(p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                      if p in available)
  source = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
  return onnxruntime.InferenceSession(source, providers=list(providers))


def run(onnx_session, folded_images: np.ndarray) -> np.ndarray:
  """Logits of a session for a batch of folded images."""
  return onnx_session.run([OUTPUT_NAME], {INPUT_NAME: folded_images})[0]


def device_run(onnx_session, folded_images: np.ndarray, device: str = "cuda"):
  """A blocking call of the session on a batch copied once to `device` (its CUDA provider).

  Input and logits stay on the device (IOBinding), as a GPU deployment keeps them; the call
  returns the binding's outputs as device values.
  """
  import onnxruntime

  binding = onnx_session.io_binding()
  binding.bind_ortvalue_input(INPUT_NAME, onnxruntime.OrtValue.ortvalue_from_numpy(
      np.ascontiguousarray(folded_images), device, 0))
  binding.bind_output(OUTPUT_NAME, device, 0)

  def call():
    onnx_session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    return binding.get_outputs()

  return call


@dataclasses.dataclass(frozen=True)
class ExportResult:
  path: str
  task: str
  fold: int
  input_dtype: str
  input_shape: str
  megabytes: float
  checked_images: int
  check_source: str  # "test" (the checkpoint's test split) | "random"
  max_abs_difference: float


def export_checkpoint(workdir: str, out: str, *, which: str = "best", input_dtype: str = "uint8",
                      check_images: int = 256) -> ExportResult:
  """Writes a trained checkpoint as ONNX and compares ONNX Runtime's logits with JAX's."""
  from foldedcnn_jax import data, predict
  from foldedcnn_jax.runtime import folding

  predictor = predict.load(workdir, which=which, tune_mode="off")
  model = to_onnx(predictor.graphdef, predictor.params, predictor.spec,
                  task_id=predictor.task_id, class_names=predictor.class_names,
                  input_dtype=input_dtype)
  folder = os.path.dirname(os.path.abspath(out))
  os.makedirs(folder, exist_ok=True)
  with open(out, "wb") as file:
    file.write(model.SerializeToString())
  try:
    images, _ = data.load_run_split(predictor.task_id, predictor.config, "test",
                                     limit=check_images)
    source = "test"
  except Exception:  # noqa: BLE001 - the data may live elsewhere; the check still runs
    images, source = None, "random"
  if images is None or not len(images):
    images = np.random.default_rng(0).integers(
        0, 256, (check_images, *predictor.input_shape), dtype=np.uint8)
    source = "random"
  folded = folding.fold(np.asarray(images), predictor.fold)
  inputs = folded if input_dtype == "uint8" else (folded / np.float32(255)).astype(np.float32)
  expected = np.asarray(predictor.folded_logits(inputs))
  actual = run(session(out), inputs)
  shape = "x".join(["batch/f", *map(str, predictor.spec.folded_input_shape)])
  return ExportResult(out, predictor.task_id, predictor.fold, input_dtype, shape,
                      os.path.getsize(out) / 2**20, len(images), source,
                      float(np.max(np.abs(actual - expected))))
