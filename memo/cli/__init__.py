"""`memo`: the command line, a leaf over the Python API. Nothing in the library imports this package.

One module per command group (`core`: doctor, chat, cache; `reflect`; `memory`: train, recall; `executive`: ask;
`demo`; `merge`: merge, add, versions, rollback); `_common` holds the consoles, global options, error handling
and the rich progress display; `main` builds the app.
"""

from .main import app

__all__ = ["app"]
