"""Benchmarks of ICC: the bare-stack floor on this machine beside the incidents service.

Run `uv run python bench/run.py [--quick]`; see `bench/suite.py`.
"""
