"""Data sources for two-label classification, all yielding the same `DataSpec`."""
