"""``python -m pipeline_core``: the command line (``pipeline_core.cli.main``)."""

import sys

from pipeline_core.cli import main

sys.exit(main())
