"""``python -m tickwire`` runs the command line."""

from .cli import main

main()
