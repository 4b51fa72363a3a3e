"""The seeded validation carve-out shared by the array-backed data sources."""

import numpy as np

from research.data import splits as splits_lib


def test_carved_validation_keeps_every_column_aligned_and_is_seeded():
  fine = np.arange(10)
  inputs = fine * 10  # each input names its own label
  arrays = {"train": (inputs, fine), "test": (inputs[:2], fine[:2])}
  carved = splits_lib.with_validation_carved(arrays, 0.3, seed=5)
  train_inputs, train_fine = carved["train"]
  validation_inputs, validation_fine = carved["validation"]
  assert (len(train_fine), len(validation_fine)) == (7, 3)
  np.testing.assert_array_equal(train_inputs, train_fine * 10)
  np.testing.assert_array_equal(validation_inputs, validation_fine * 10)
  assert sorted(np.concatenate([train_fine, validation_fine])) == list(range(10))
  assert carved["test"] is arrays["test"]
  again = splits_lib.with_validation_carved(arrays, 0.3, seed=5)
  np.testing.assert_array_equal(again["validation"][1], validation_fine)
