"""Reference trainers and tiny models the benchmarks and tests use."""
