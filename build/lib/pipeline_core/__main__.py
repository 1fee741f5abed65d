"""``python -m pipeline_core``: the command line."""

import sys

from pipeline_core.cli import main

sys.exit(main())
