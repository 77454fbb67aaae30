"""The joint model, its decoding, its priors, its windows, encoders and checkpoints."""
