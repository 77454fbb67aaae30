"""Encoders: hub/local checkpoints, the bundled multilingual-e5-small and a tiny random BERT."""
