"""The synthetic default task: shape, hierarchy, determinism and its knobs."""

import numpy as np

from research import config
from research.data import hierarchy
from research.data import synthetic


def _load(seed=0, **data_fields):
  return synthetic.load(config.DataConfig(**data_fields), seed)


def test_shape_of_the_reference_task():
  spec = _load(synthetic_train_size=800)
  assert (spec.num_coarse, spec.num_fine) == (4, 27)
  assert {name: len(split) for name, split in spec.splits.items()} == {
      "train": 800, "validation": 100, "test": 200}
  features, labels = next(iter(spec.splits["train"].examples))
  assert features.shape == (32,)
  assert set(labels) == {"coarse", "fine"}


def test_every_fine_class_has_one_coarse_parent():
  spec = _load(synthetic_train_size=4000)
  train = spec.splits["train"]
  counts = hierarchy.cooccurrence(train.coarse, train.fine, 4, 27)
  assert ((counts > 0).sum(axis=0) == 1).all()
  np.testing.assert_array_equal(counts.argmax(axis=0), spec.fine_to_coarse)
  assert sorted(np.bincount(spec.fine_to_coarse)) == [6, 7, 7, 7]


def test_same_seed_same_data_other_seed_other_draws():
  first, again, other = _load(0), _load(0), _load(1)
  np.testing.assert_array_equal(first.splits["train"].fine,
                                again.splits["train"].fine)
  assert (first.splits["train"].fine != other.splits["train"].fine).any()


def test_imbalance_sets_the_ratio_of_fine_class_frequencies():
  prior = synthetic.class_prior(27, imbalance=10.0)
  np.testing.assert_allclose(prior.max() / prior.min(), 10.0)
  np.testing.assert_allclose(prior.sum(), 1.0)
  train = _load(synthetic_train_size=20000, synthetic_imbalance=10.0)
  counts = np.bincount(train.splits["train"].fine, minlength=27)
  assert 6 < counts[0] / counts[-1] < 16


def test_label_noise_touches_the_training_split_only():
  clean = _load(synthetic_train_size=8000)
  noisy = _load(synthetic_train_size=8000, synthetic_label_noise=0.5)
  changed = np.mean(clean.splits["train"].fine != noisy.splits["train"].fine)
  # A replaced pair keeps its class with probability 1/27.
  np.testing.assert_allclose(changed, 0.5 * 26 / 27, atol=0.03)
  for name in ("validation", "test"):
    np.testing.assert_array_equal(clean.splits[name].fine,
                                  noisy.splits[name].fine)


def test_noisy_pairs_stay_inside_the_hierarchy():
  spec = _load(synthetic_label_noise=0.5)
  train = spec.splits["train"]
  np.testing.assert_array_equal(spec.fine_to_coarse[train.fine], train.coarse)
