"""``python -m tickwire`` runs the command line."""

from tickwire.cli import main

main()
