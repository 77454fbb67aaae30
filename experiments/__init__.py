"""Studies behind the configuration choices; run as ``python -m experiments.NAME`` from the
repository root."""
