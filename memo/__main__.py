"""`python -m memo` (also `accelerate launch -m memo train ...`): the same CLI as the `memo` command."""

from .cli import app

app()
