"""Probe: ONNX Runtime (CPU) images/s of each task's exported f = 1 and f = 4 models, random
weights, batch 1024, under session options; ONNX Runtime alone in the process.

  python results/cpu/probes/ort_session_options.py TASKS [OPTIONS [ROUNDS]]
  python results/cpu/probes/ort_session_options.py v1,v2,v3,v4,v5,v6,n1,n2,n3,n4 \
      default,threads2,threads2_nospin 5

Every session is timed in each of ROUNDS rounds (default 3) by bench.timing.time_calls: untimed
calls, then the median of 7 single calls; the median over rounds is printed. Output in
ort_session_options.txt (written before this loop moved onto time_calls: one untimed call then).
"""

import sys

import numpy as np
import onnxruntime
from flax import nnx

from foldedcnn_jax import export
from foldedcnn_jax.bench import runners, timing
from foldedcnn_jax.models.spec import ModelSpec

BATCH, CALLS = 1024, 7
OPTIONS = {  # name: (intra-op threads or None, allow spinning or None, optimisation level)
    "default": (None, None, None),
    "threads2": (2, None, None),
    "threads2_nospin": (2, "0", None),
    "threads1": (1, None, None),
    "basic": (None, None, onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC),
    "extended": (None, None, onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
}


def _session(model: bytes, threads, spinning, level):
  options = onnxruntime.SessionOptions()
  if threads is not None:
    options.intra_op_num_threads = threads
  if spinning is not None:
    options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
  if level is not None:
    options.graph_optimization_level = level
  return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _seconds(session, batch) -> float:
  return timing.time_calls(lambda: export.run(session, batch), trials=CALLS, warmup_calls=1,
                           min_trial_seconds=0.0).median_seconds


def main(tasks: list[str], names: list[str], rounds: int) -> None:
  for task in tasks:
    models = {}
    for fold in (1, 4):
      spec = ModelSpec.for_task(task, fold=fold)
      graphdef, state = nnx.split(runners.random_model(spec, "float32", 0))
      models[fold] = (export.to_onnx(graphdef, state, spec, task_id=task).SerializeToString(),
                      runners.random_folded_batch(spec, BATCH, 0))
    sessions = {(name, fold): _session(models[fold][0], *option)
                for name in names for option in [OPTIONS[name]] for fold in (1, 4)}
    rates = {key: [] for key in sessions}
    for _ in range(rounds):
      for (name, fold), session in sessions.items():
        rates[name, fold].append(BATCH / _seconds(session, models[fold][1]))
    for name in names:
      f1, f4 = np.median(rates[name, 1]), np.median(rates[name, 4])
      print(f"{task} {name:16s} f=1 {f1:8.0f}  f=4 {f4:8.0f} images/s  f=4/f=1 {f4 / f1:.2f}",
            flush=True)


if __name__ == "__main__":
  main(sys.argv[1].split(","), (sys.argv[2] if len(sys.argv) > 2 else "default").split(","),
       int(sys.argv[3]) if len(sys.argv) > 3 else 3)
