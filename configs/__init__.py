"""ml_collections configs: `base.py` declares every field; one file per task sets its recipe."""
