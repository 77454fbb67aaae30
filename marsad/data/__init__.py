"""Corpus tooling: sentence splitting, validation, BIO view, audit, splits and loading."""
