"""retail-sim: a discrete-event simulation of a retail chain on SimPy."""

__version__ = "0.1.0"
