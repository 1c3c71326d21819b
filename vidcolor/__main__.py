"""``python -m vidcolor``: the ``vidcolor`` command."""

import sys

from vidcolor.cli import main

sys.exit(main())
