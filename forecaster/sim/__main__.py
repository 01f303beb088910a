"""``python -m forecaster.sim``: see ``forecaster.sim.cli``."""

from forecaster.cli import cli_main
from forecaster.sim.cli import main

cli_main(main)
