"""The command-line commands (``marsad --help``); ``train/`` and ``eval/`` hold thin wrappers."""
