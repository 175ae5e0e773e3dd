"""Benchmarks behind ``parley bench …``: they print figures, they never assert timings."""
