r"""Filters a video with a trained FoldedCNN (the NoScope production job).

  python -m experiments.filter_video --workdir=runs/n2/f4 --video=night.mp4 --out=filter.csv \
      [--labels_csv=night.csv] [--frames=START:STOP] [--compare=runs/n2/f1] [--bounds]
  python -m experiments.filter_video --workdir=runs/n2/f4 --video=cam1.mp4,cam2.mp4,... \
      --out=filter.csv [--labels_csv=cam1.csv,cam2.csv,...]

Writes one row per frame (frame, probability of the object, decision; with several videos a
leading video column) and prints the end-to-end
frames/s with the share of time in each stage. With labels: accuracy and the NoScope cascade
(thresholds chosen on the task's val chunk for --target_error, measured on its test chunk) and,
with --compare, §G with the measured speedup and accuracy difference. Bad input is one `error:`
line and exit code 2.
"""

from __future__ import annotations

from absl import flags, logging

from foldedcnn_jax import cli
from foldedcnn_jax.cli import fail

_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir (or checkpoint) of the filter.")
_VIDEO = flags.DEFINE_list("video", None, "The video to filter, or several (comma-separated) "
                           "filtered together as interleaved streams.")
_OUT = flags.DEFINE_string("out", None, "CSV to write: frame,probability,decision.")
_LABELS = flags.DEFINE_list("labels_csv", [], "NoScope label CSV, one per video: accuracy and "
                            "the cascade.")
_FRAMES = flags.DEFINE_string("frames", "", "START:STOP of the frames to filter in every video "
                              "(default: all).")
_COMPARE = flags.DEFINE_string("compare", "", "A second workdir (e.g. f=1) for §G.")
_TARGET = flags.DEFINE_float("target_error", 0.01, "The cascade's allowed error.")
_CONFIDENCE = flags.DEFINE_float("confidence", 0.95, "Confidence that the cascade's error on new "
                                 "frames is within --target_error (a Clopper-Pearson margin on "
                                 "the calibration frames; 0: no margin).")
_CALIBRATION = flags.DEFINE_string("calibration", "", "START:STOP choosing the thresholds "
                                   "(default: the task's val chunk).")
_EVALUATION = flags.DEFINE_string("evaluation", "", "START:STOP measuring the cascade "
                                  "(default: the task's test chunk).")
_REFERENCE = flags.DEFINE_float("reference_images_per_second", 0.0, "The reference model's "
                                "images/s (0: measure a random ResNet-50 on this device).")
_GROUPING = flags.DEFINE_enum("grouping", "auto", ["auto", "strided", "interleaved", "consecutive"],
                              "Which frames share a folded input: frame t of f equal segments "
                              "(strided, for a recorded video), frames of f different videos "
                              "(interleaved streams) or f consecutive frames (live); auto: "
                              "strided for one video, interleaved for several.")
_RESIZE = flags.DEFINE_enum("resize", "auto", ["auto", "host", "device"],
                            "Where frames are resized to the model's input: by the decoding "
                            "threads (host) or inside the compiled model (device: the decoded "
                            "frames are copied as they are; the same values); auto: device on a "
                            "GPU, host on a CPU.")
_BATCH = flags.DEFINE_integer("batch_images", 256, "Frames per model call.")
_WORKERS = flags.DEFINE_integer("decode_workers", 0, "Decoding threads (0: one per CPU core).")
_BOUNDS = flags.DEFINE_bool("bounds", False, "Also measure decode-only and model-only frames/s.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar (frames/s).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    fail(f"unexpected arguments: {' '.join(argv[1:])}")
  for flag in (_WORKDIR, _VIDEO, _OUT):
    if not flag.value:
      fail(f"--{flag.name} is required")
  if not flags.FLAGS["verbosity"].present:  # orbax logs every file at INFO
    logging.set_verbosity(logging.WARNING)
  from foldedcnn_jax import filter_job  # JAX loads only after the flags are known to be good
  from foldedcnn_jax.video_filter import FilterOptions

  options = FilterOptions(_GROUPING.value, _BATCH.value, _WORKERS.value, _PROGRESS.value,
                          _RESIZE.value)
  job = filter_job.Job(
      workdir=_WORKDIR.value, video=tuple(_VIDEO.value), out=_OUT.value,
      labels_csv=tuple(_LABELS.value), frames=_FRAMES.value, compare=_COMPARE.value,
      target_error=_TARGET.value, confidence=_CONFIDENCE.value, calibration=_CALIBRATION.value,
      evaluation=_EVALUATION.value, reference_images_per_second=_REFERENCE.value,
      bounds=_BOUNDS.value, options=options)
  filter_job.run(job, say=lambda line: print(line, flush=True))


if __name__ == "__main__":
  cli.run(main)
