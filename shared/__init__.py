"""Parley's shared library: config, errors, logging, database, HTTP edge and domain logic.

Functions import ``shared``; ``shared`` imports no function.
"""
