"""bioreactor-forecaster: forecast, monitor and explain fed-batch CHO cell-culture runs."""

__version__ = "0.1.0"
