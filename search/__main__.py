"""`python -m search ...` runs the mnist-search command line from a source checkout."""

import sys

from .cli import main

sys.exit(main())
