"""Parley's command line and the local single-process server."""

__version__ = "0.1.0"
