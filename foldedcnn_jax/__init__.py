"""foldedcnn_jax: FoldedCNNs in JAX/Flax NNX — fold f images into one input, widen by √f.

Import-light on purpose: models, folding and the cost model need only jax and flax;
data, training and checkpoint libraries load only when used.
"""

__version__ = "0.1.0"


def load(workdir: str, **kwargs):
  """A predictor for the trained checkpoint in `workdir`: predictor(images_uint8_NHWC)."""
  from foldedcnn_jax import predict  # orbax and friends load only here

  return predict.load(workdir, **kwargs)
