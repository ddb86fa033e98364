"""Running a model: folding and grouping, execution variants and the autotuner, and the one
`Runner` (fold → pad to a compiled size → place on the devices → compiled program → unfold →
probabilities) that the predictor, the video filter, export, training's evaluation and the
benchmark call."""
