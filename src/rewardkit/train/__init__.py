"""Reference trainers the benchmarks use: PPO for control, GRPO for small language models."""
