"""Stream order: does a folded model seeing f consecutive frames beat its twin given them too?

  python results/cpu/probes/stream_context.py WORKDIR[:latest] [WORKDIR[:latest] ...]

For each workdir (a trained run of a NoScope task, f = 1 or folded), the val and test splits in
record order are folded as a stream folds them (frames t..t+f-1 of one group, `grouping
"consecutive"`, f = 4 for an f = 1 model) and scored two ways:
  alone      each frame's own prediction;
  smoothed   each frame's probabilities plus lambda x the sum of the other frames' of its group,
             lambda chosen on val from LAMBDAS (a large lambda is the group's mean): the same
             context a folded model gets, used by the simplest rule there is.
A folded model's own prediction already uses its group; its smoothed score shows what the same
rule adds on top. Prints one row per workdir. Results: results/twins.md section 6.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.getcwd())
import foldedcnn_jax  # noqa: E402
from foldedcnn_jax.data import load_run_split  # noqa: E402
from foldedcnn_jax.runtime import folding  # noqa: E402

GROUP = 4  # frames a folded group of the compared folded models holds
LAMBDAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 1e6)


def smoothed(probabilities: np.ndarray, lam: float) -> np.ndarray:
  """Each frame's probabilities plus lam x those of the other frames of its group of GROUP."""
  count = len(probabilities)
  padded = folding.pad_to(probabilities, -(-count // GROUP) * GROUP)
  groups = padded.reshape(-1, GROUP, padded.shape[-1])
  total = groups.sum(axis=1, keepdims=True)
  return (groups + lam * (total - groups)).reshape(padded.shape)[:count]


def score(name: str) -> dict:
  """`name`: a workdir (its best checkpoint) or WORKDIR:latest (its last)."""
  workdir, _, which = name.partition(":")
  predictor = foldedcnn_jax.load(workdir, which=which or "best", tune_mode="off")  # XLA defaults
  with open(os.path.join(workdir, "config.json")) as handle:
    config = json.load(handle)
  result = {"workdir": name, "fold": predictor.fold}
  splits = {}
  for split in ("val", "test"):
    images, labels = load_run_split(predictor.task_id, config, split)
    splits[split] = (predictor(images, "consecutive").probabilities, labels)
  accuracy = {split: {lam: float(np.mean(smoothed(p, lam).argmax(-1) == labels))
                      for lam in LAMBDAS} for split, (p, labels) in splits.items()}
  best = max(LAMBDAS, key=lambda lam: (accuracy["val"][lam], -lam))
  result.update(grid=" ".join(f"{lam:g}:{accuracy['val'][lam]:.4f}/{accuracy['test'][lam]:.4f}"
                              for lam in LAMBDAS))
  result.update(val_alone=accuracy["val"][0.0], test_alone=accuracy["test"][0.0], lam=best,
                val_smoothed=accuracy["val"][best], test_smoothed=accuracy["test"][best])
  return result


if __name__ == "__main__":
  for workdir in sys.argv[1:]:
    row = score(workdir)
    print(" | ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"
                     for key, value in row.items()), flush=True)
