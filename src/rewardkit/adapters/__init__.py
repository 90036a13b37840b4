"""Adapters to the trainers users already run. Each imports its library lazily."""
