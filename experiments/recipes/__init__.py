"""Training recipes on real data that reach a stated accuracy in a stated time."""
