"""Training: the trainer, refitting on train + dev, and training curves."""
