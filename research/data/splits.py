"""Split files and the seeded validation carve-out shared by all sources."""

import os

import numpy as np

SPLITS = ("train", "validation", "test")


def carve_validation(size, share, seed):
  """Seeded (train_indices, validation_indices) of a split without validation.

  Args:
    size: number of training examples.
    share: fraction moved to validation (at least one example when > 0).
    seed: the run's seed; the same seed always carves the same examples.

  Returns:
    Two sorted int arrays partitioning range(size).
  """
  count = min(max(int(round(size * share)), 1 if share > 0 else 0), size - 1)
  order = np.random.default_rng(seed).permutation(size)
  return np.sort(order[count:]), np.sort(order[:count])


def with_validation_carved(arrays, share, seed):
  """`arrays` with a seeded share of its training examples moved to validation.

  Args:
    arrays: split -> tuple of equally long arrays (inputs, labels, ...); it
      has "train" and no "validation".
    share, seed: as in `carve_validation`.

  Returns:
    A new mapping: "train" keeps the rest, "validation" the carved examples.
  """
  train = arrays["train"]
  keep, held = carve_validation(len(train[0]), share, seed)
  return {**arrays, "train": tuple(column[keep] for column in train),
          "validation": tuple(column[held] for column in train)}


def split_files(data_cfg, defaults):
  """Resolves the per-split files of a file-based source.

  Args:
    data_cfg: config.DataConfig (data_dir, train_file, val_file, test_file).
    defaults: split -> file name in data_dir used when its flag is empty. A
      relative name given by flag is read from the working directory if it
      is there, else from data_dir.

  Returns:
    split -> path or None (validation may be None: it is then carved).
  """
  given = {"train": data_cfg.train_file, "validation": data_cfg.val_file,
           "test": data_cfg.test_file}
  files = {}
  for split in SPLITS:
    name = given[split] or defaults.get(split)
    if not name:
      files[split] = None
      continue
    path = os.path.expanduser(name)
    # A default name is data_dir's file only: a train.csv that happens to be
    # in the working directory must not be read instead.
    in_data_dir = not given[split] or not os.path.exists(path)
    if not os.path.isabs(path) and data_cfg.data_dir and in_data_dir:
      path = os.path.join(os.path.expanduser(data_cfg.data_dir), path)
    optional = split == "validation" and not given[split]
    files[split] = None if optional and not os.path.exists(path) else path
  return files


def ordered(by_split):
  """The same mapping in train, validation, test order (for stable reports)."""
  return {split: by_split[split] for split in SPLITS if split in by_split}
