"""Scoring: metrics, evaluation of a model, reports, baselines, comparisons, agreement."""
