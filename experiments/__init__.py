"""Ablation studies: sweeps kept as data, a resumable runner, generated tables."""
