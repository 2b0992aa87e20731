"""One module per CLI sub-command; see ``dispatcher.cli``."""
