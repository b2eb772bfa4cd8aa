"""Benchmarks of the reply path: `python -m benchmarks` (see benchmarks/README section in
the project README and benchmarks/RESULTS.md)."""
