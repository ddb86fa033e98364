"""Spec parser and the NNX FoldedCNN (no data or training imports here)."""

from foldedcnn_jax.models.cnn import DTYPES, FoldedCNN, count_params, create_model, resolve_dtype
from foldedcnn_jax.models.spec import (
    ArchitectureError,
    FoldFactorError,
    LayerPlan,
    ModelSpec,
    compound_scaled,
    format_architecture,
    parse_architecture,
)

__all__ = [
    "DTYPES", "ArchitectureError", "FoldFactorError", "FoldedCNN", "LayerPlan", "ModelSpec",
    "compound_scaled", "count_params", "create_model", "format_architecture",
    "parse_architecture", "resolve_dtype",
]
