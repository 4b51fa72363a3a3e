"""The coarse<->fine relation counted from labels: co-occurrence and priors."""

import numpy as np


def cooccurrence(coarse, fine, num_coarse, num_fine):
  """[num_coarse, num_fine] counts of (coarse, fine) pairs, both labels present."""
  both = (coarse >= 0) & (fine >= 0)
  counts = np.zeros((num_coarse, num_fine), np.int64)
  np.add.at(counts, (coarse[both], fine[both]), 1)
  return counts


def class_counts(labels, num_classes):
  """[num_classes] counts of the present labels (missing = -1 skipped)."""
  return np.bincount(labels[labels >= 0], minlength=num_classes)
