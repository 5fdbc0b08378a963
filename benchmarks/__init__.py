"""Benchmarks of the two runtimes (issue: benchmarks). Measurements, never tests of speed."""
