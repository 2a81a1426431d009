"""``python -m ce_drill`` runs the CLI."""

from ce_drill.cli import main

main()
