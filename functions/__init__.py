"""Parley's functions: stateless handlers, one folder per capability."""
