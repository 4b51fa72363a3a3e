"""Seeded synthetic two-label task shaped like the reference (4 coarse, 27 fine).

Each fine class has one coarse parent. Class centres are Gaussian: a fine
centre mixes its parent's centre (weight `coupling`) with its own direction,
so coarse classes are easier than fine ones, as in real hierarchies. Inputs are
the fine centre plus unit Gaussian noise.
"""

import numpy as np

from research.data import spec as spec_lib

NUM_COARSE = 4
NUM_FINE = 27
_TASK_SEED = 20191  # the class geometry; sample draws follow the run's seed


def fine_to_coarse(num_coarse=NUM_COARSE, num_fine=NUM_FINE):
  """Contiguous groups: fine classes 0..6 -> coarse 0, 7..13 -> 1, ..."""
  return (np.arange(num_fine) * num_coarse // num_fine).astype(np.int32)


def class_prior(num_fine, imbalance):
  """Geometric fine-class frequencies from 1 down to 1/imbalance, normalised."""
  exponents = np.arange(num_fine) / max(num_fine - 1, 1)
  prior = float(imbalance) ** -exponents
  return prior / prior.sum()


def class_centres(feature_dim, separation, coupling):
  """[NUM_FINE, feature_dim] centres, fixed for the task (not the run seed)."""
  rng = np.random.default_rng(_TASK_SEED)
  coarse = rng.normal(size=(NUM_COARSE, feature_dim))
  own = rng.normal(size=(NUM_FINE, feature_dim))
  mixed = (np.sqrt(coupling) * coarse[fine_to_coarse()] +
           np.sqrt(1.0 - coupling) * own)
  return separation * mixed / np.sqrt(feature_dim) * 3.0


def sample(rng, centres, prior, size, label_noise=0.0):
  """Draws `size` samples; returns (features, coarse, fine)."""
  parents = fine_to_coarse()
  fine = rng.choice(len(prior), size=size, p=prior).astype(np.int32)
  features = centres[fine] + rng.normal(size=(size, centres.shape[1]))
  noisy = rng.random(size) < label_noise
  fine = np.where(noisy, rng.integers(0, len(prior), size), fine)
  return features.astype(np.float32), parents[fine], fine.astype(np.int32)


def load(data_cfg, seed):
  """Builds the synthetic DataSpec.

  Args:
    data_cfg: config.DataConfig (synthetic_* fields).
    seed: seed for the sample draws.

  Returns:
    DataSpec with train (noisy if asked), validation and test (clean) splits of
    sizes n, n/8 and n/4.
  """
  centres = class_centres(data_cfg.synthetic_feature_dim,
                          data_cfg.synthetic_separation,
                          data_cfg.synthetic_coupling)
  prior = class_prior(NUM_FINE, data_cfg.synthetic_imbalance)
  rng = np.random.default_rng(seed)
  n = data_cfg.synthetic_train_size
  sizes = {"train": n, "validation": max(n // 8, 1), "test": max(n // 4, 1)}
  splits = {}
  for name, size in sizes.items():
    noise = data_cfg.synthetic_label_noise if name == "train" else 0.0
    splits[name] = spec_lib.split_from_arrays(
        *sample(rng, centres, prior, size, label_noise=noise))
  return spec_lib.DataSpec(
      name="synthetic",
      input_shape=(data_cfg.synthetic_feature_dim,),
      input_kind="features",
      coarse_names=tuple(f"coarse_{i}" for i in range(NUM_COARSE)),
      fine_names=tuple(f"fine_{i}" for i in range(NUM_FINE)),
      splits=splits,
      fine_to_coarse=fine_to_coarse())
