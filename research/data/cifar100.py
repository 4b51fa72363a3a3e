"""`cifar100`: the `cifar-100-python` folder (train, test, meta pickles).

Coarse labels are the 20 superclasses, fine labels the 100 classes. Pickles
are read with `safe_pickle`, which refuses anything but containers and numpy
arrays. Validation is a seeded `--validation_share` of the training images.
"""

import os

import numpy as np

from research.data import images
from research.data import labelled
from research.data import problems as problems_lib
from research.data import safe_pickle
from research.data import spec as spec_lib
from research.data import splits as splits_lib

FOLDER = "cifar-100-python"
DEFAULT_DIRS = ("~/.keras/datasets",)
NUM_COARSE, NUM_FINE = 20, 100


def find_dir(data_dir):
  """The cifar-100-python folder: --data_dir itself or inside it when given
  (only there: a typo must not fall back to Keras' cache), else in the cache.
  """
  bases = [data_dir] if data_dir else list(DEFAULT_DIRS)
  candidates = []
  for base in bases:
    base = os.path.expanduser(base)
    candidates += [base, os.path.join(base, FOLDER)]
  for folder in candidates:
    if all(os.path.isfile(os.path.join(folder, n))
           for n in ("train", "test", "meta")):
      return folder
  where = "--data_dir" if data_dir else "the default folder"
  raise problems_lib.DataError([problems_lib.Problem(
      "cifar100", None,
      f"files train, test and meta not found in {where}: looked in "
      f"{' and '.join(candidates)}. Download cifar-100-python.tar.gz from "
      "https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and pass "
      "--data_dir=<folder holding cifar-100-python>")])


def read_pickle(path):
  """(object, problems) of one pickle, read with the restricted unpickler."""
  try:
    with open(path, "rb") as handle:
      return safe_pickle.loads(handle.read()), []
  except safe_pickle.RefusedPickle as error:
    return None, [problems_lib.Problem(path, None, str(error))]
  except Exception as error:  # pylint: disable=broad-except
    return None, [problems_lib.Problem(path, None,
                                       f"not a readable pickle ({error})")]


def _labels(batch, key, limit, path):
  values = np.asarray(batch.get(key, []), np.int64)
  found = [problems_lib.Problem(path, int(i) + 1, f"{key.decode()} {values[i]} "
                                f"out of range [0, {limit})")
           for i in np.flatnonzero((values < 0) | (values >= limit))]
  return values.astype(np.int32), found


def read_split(folder, split):
  """(images [n, 32, 32, 3] uint8, coarse [n], fine [n], problems)."""
  path = os.path.join(folder, split)
  batch, found = read_pickle(path)
  if found:
    return None, None, None, found
  missing = [k.decode() for k in (b"data", b"coarse_labels", b"fine_labels")
             if not isinstance(batch, dict) or k not in batch]
  if missing:
    return None, None, None, [problems_lib.Problem(
        path, None, f"not a CIFAR-100 batch: no {', '.join(missing)}")]
  pixels = np.asarray(batch[b"data"], np.uint8)
  coarse, coarse_problems = _labels(batch, b"coarse_labels", NUM_COARSE, path)
  fine, fine_problems = _labels(batch, b"fine_labels", NUM_FINE, path)
  found = coarse_problems + fine_problems
  if pixels.ndim != 2 or pixels.shape[1] != 3072 or len(pixels) != len(fine) \
      or len(coarse) != len(fine):
    found.append(problems_lib.Problem(
        path, None, f"data of shape {pixels.shape} for {len(coarse)} coarse "
        f"and {len(fine)} fine labels (expected [n, 3072] and n of each)"))
    return None, None, None, found
  # Rows are channel-planar: 1024 red, 1024 green, 1024 blue values.
  pixels = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return pixels, coarse, fine, found


def read_names(folder):
  """(coarse names, fine names, problems) from the meta pickle."""
  path = os.path.join(folder, "meta")
  meta, found = read_pickle(path)
  if found:
    return None, None, found
  try:
    return (tuple(n.decode() for n in meta[b"coarse_label_names"]),
            tuple(n.decode() for n in meta[b"fine_label_names"]), [])
  except (KeyError, TypeError, AttributeError):
    return None, None, [problems_lib.Problem(
        path, None, "no coarse_label_names / fine_label_names lists")]


def load(data_cfg, seed):
  """Loads CIFAR-100 as [32, 32, 3] images, 20 coarse and 100 fine classes.

  Args:
    data_cfg: config.DataConfig (data_dir, validation_share, augment_*).
    seed: seed of the validation carve-out.

  Returns:
    DataSpec of the three splits.
  """
  folder = find_dir(data_cfg.data_dir)
  coarse_names, fine_names, found = read_names(folder)
  arrays = {}
  for split in ("train", "test"):
    *arrays[split], split_problems = read_split(folder, split)
    found += split_problems
  for split, (_, coarse, fine) in arrays.items():
    if not found:
      found += problems_lib.fine_under_two_coarse(
          coarse, fine, os.path.join(folder, split), range(1, len(fine) + 1),
          coarse_names, fine_names)
  problems_lib.raise_if_any(found)
  _, train_coarse, train_fine = arrays["train"]
  arrays = splits_lib.with_validation_carved(
      arrays, data_cfg.validation_share, seed)
  return spec_lib.DataSpec(
      name="cifar100", input_shape=(32, 32, 3), input_kind="image",
      coarse_names=coarse_names, fine_names=fine_names,
      splits=spec_lib.image_splits_from_arrays(
          splits_lib.ordered(arrays), images.augmenter_for(data_cfg)),
      fine_to_coarse=labelled.fine_to_coarse(train_coarse, train_fine,
                                             len(fine_names)))
