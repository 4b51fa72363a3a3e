"""Class weights and priors counted from the training labels of one head.

Keras' `class_weight` argument does not work for multi-output models, so the
weights are computed here and applied inside the loss. Classes that never
occur in the training split count as seen once, which keeps weights and
log-priors finite for a class that only appears in validation or test.
"""

import numpy as np

WEIGHTINGS = ("none", "balanced", "effective_number")


def _seen_counts(counts):
  return np.maximum(np.asarray(counts, np.float64), 1.0)


def prior(counts):
  """[C] class frequencies of the training labels, each > 0."""
  seen = _seen_counts(counts)
  return seen / seen.sum()


def class_weights(weighting, counts, beta=0.999):
  """Per-class loss weights from training label counts.

  Args:
    weighting: "none" (returns None), "balanced" (n / (C * n_c), as
      scikit-learn: the mean weight over training examples is 1 when every
      class occurs in training; a class counted as seen once lowers it) or
      "effective_number" (Cui et al., 2019: (1 - beta) / (1 - beta^n_c),
      scaled so the weights sum to C).
    counts: [C] training label counts of the head.
    beta: effective-number decay in [0, 1).

  Returns:
    [C] float64 weights, or None for "none".
  """
  if weighting not in WEIGHTINGS:
    raise ValueError(f"unknown class weighting {weighting!r}; "
                     f"expected one of {list(WEIGHTINGS)}")
  if weighting == "none":
    return None
  seen = _seen_counts(counts)
  num_classes = len(seen)
  if weighting == "balanced":
    return seen.sum() / (num_classes * seen)
  if not 0 <= beta < 1:
    raise ValueError(f"effective-number beta must be in [0, 1), got {beta}")
  raw = (1.0 - beta) / (1.0 - np.power(beta, seen))
  return raw * num_classes / raw.sum()
