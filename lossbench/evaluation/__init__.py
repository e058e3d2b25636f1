"""Evaluation: the metrics reported for each task (computed with scikit-learn)."""
