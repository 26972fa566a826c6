"""Workflows: YAML pipelines submitted whole to Slurm with native dependencies."""
