"""``python -m forecaster.sim``: see ``forecaster.sim.cli``."""

import sys

from forecaster.sim.cli import main

sys.exit(main())
