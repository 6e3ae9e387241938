"""``python -m cartograph``: the same as the ``cartograph`` command."""

from cartograph.cli import app

app()
