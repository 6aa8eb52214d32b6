"""Entry point for `python -m aecore`."""

import sys

from .cli import main

sys.exit(main())
