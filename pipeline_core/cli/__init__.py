"""The command line, ``python -m pipeline_core COMMAND`` (or ``mlops``): ``main`` and ``build_parser``.

One module per command group (``runs``, ``up``, ``users``, ``deployments``, ``governance``,
``monitoring``), each declaring its commands once (``registry``); the parser is built from those
declarations (``parser``). Importing any of it stays cheap: a command imports the services it needs
when it runs, so ``--help`` answers without pandas, scikit-learn, shap, FastAPI or Streamlit.
Exit codes come from one table, ``pipeline_core.errors.EXIT_CODES``.
"""

from __future__ import annotations

from pipeline_core.cli.entry import main
from pipeline_core.cli.parser import build_parser

__all__ = ["build_parser", "main"]
