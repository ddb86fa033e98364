r"""ONNX export of a trained FoldedCNN, checked against JAX on real test images.

  python -m experiments.export --workdir=runs/n2/f4 --out=n2_f4.onnx [--which=best] \
      [--input_dtype=uint8|float32] [--check_images=256]

Writes the folded model with a dynamic batch axis: input `folded_images` (batch/f, H, W, f·C),
uint8 0..255 (scaled in the graph) or float32 in [0, 1]; output `logits` (batch/f, f·K), slot
j·K:(j+1)·K for image j of each group. Then runs ONNX Runtime on the checkpoint's test images
(random images where the data is not at hand) and prints the max abs difference from JAX's
logits. `python -m experiments.benchmark --onnx_files=n2_f4.onnx` times the file.
"""

from __future__ import annotations

from absl import flags, logging

from foldedcnn_jax import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir or checkpoint directory.",
                               required=True)
_OUT = flags.DEFINE_string("out", None, "The .onnx file to write.", required=True)
_WHICH = flags.DEFINE_enum("which", "best", ["best", "latest"], "Which checkpoint.")
_INPUT_DTYPE = flags.DEFINE_enum("input_dtype", "uint8", ["uint8", "float32"],
                                 "The exported input: uint8 images or float32 in [0, 1].")
_CHECK_IMAGES = flags.DEFINE_integer("check_images", 256, "Test images to compare on.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  from foldedcnn_jax import export  # JAX loads only after the flags are known to be good

  result = export.export_checkpoint(_WORKDIR.value, _OUT.value, which=_WHICH.value,
                                    input_dtype=_INPUT_DTYPE.value,
                                    check_images=_CHECK_IMAGES.value)
  print(f"wrote {result.path} ({result.task} f={result.fold}, {result.input_dtype} input "
        f"{result.input_shape}, {result.megabytes:.1f} MB)")
  print(f"ONNX Runtime vs JAX on {result.checked_images} {result.check_source} images: "
        f"max abs logit difference {result.max_abs_difference:.3g}")


if __name__ == "__main__":
  cli.run(main)
