"""The `icc` command: run ICC locally and look inside it."""
