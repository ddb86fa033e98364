r"""Per-layer table of a task's model: shapes, params, FLOPs, bytes, arithmetic intensity.

  python -m experiments.summarize --task=v1 --fold=4 [--batch=1024] [--bytes_per_element=2] [--json]
"""

import json

from absl import flags

from foldedcnn_jax import cli, summary

_TASK = flags.DEFINE_string("task", "v1", "Task id (v1..v6, n1..n4, g32, g64, tiny).")
_FOLD = flags.DEFINE_integer("fold", 1, "Fold factor f >= 1.")
_BATCH = flags.DEFINE_integer("batch", 1024, "Batch size in images (for memory traffic).")
_BYTES = flags.DEFINE_integer("bytes_per_element", 2, "2 for fp16/bf16, 4 for fp32.")
_WIDTH_MULTIPLIER = flags.DEFINE_float("width_multiplier", None, "Override sqrt(f) widening.")
_WIDTH_ROUNDING = flags.DEFINE_integer("width_rounding", 1, "Round widths up to a multiple.")
_ARCHITECTURE = flags.DEFINE_string("architecture", None, "Override the task's architecture.")
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object instead of a table.")


def main(argv):
  del argv
  cost = summary.task_cost(_TASK.value, _FOLD.value, _BATCH.value, _BYTES.value,
                           _WIDTH_MULTIPLIER.value, _WIDTH_ROUNDING.value, _ARCHITECTURE.value)
  if _JSON.value:
    print(json.dumps({"task": _TASK.value, **cost.as_dict()}))
  else:
    print(summary.format_table(cost))


if __name__ == "__main__":
  cli.run(main)
