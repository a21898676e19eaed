"""The command-line interface. Entry point only: every command calls the Python API."""
