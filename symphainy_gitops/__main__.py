"""``python -m symphainy_gitops`` runs the CLI."""

from .cli import main

main()
