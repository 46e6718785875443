"""``python -m simulators``: the same as ``cityhub sim``."""

import sys

from simulators.cli import main

sys.exit(main())
