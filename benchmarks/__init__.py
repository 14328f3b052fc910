"""Benchmarks run by hand (not tests): ``python -m benchmarks.geometry`` (or ``make bench``)."""
