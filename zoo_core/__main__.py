"""`python -m zoo_core` runs the CLI."""
from .cli import entry

entry()
