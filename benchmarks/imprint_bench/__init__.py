"""The benchmark suite behind ``benchmarks/run`` (see benchmarks/README.md)."""
