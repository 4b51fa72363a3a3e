"""`fashion_mnist`: Zalando's Fashion-MNIST from its IDX `.gz` files.

The 10 classes become the fine labels under 4 coarse groups: tops, bottoms
and dresses, footwear, bags. Files are looked up in `--data_dir` when it is
given (only there), else where Debian's `dataset-fashion-mnist` package
installs them, then in Keras' cache.
Validation is a seeded `--validation_share` of the 60000 training images.
"""

import os

import numpy as np

from research.data import idx
from research.data import images
from research.data import problems as problems_lib
from research.data import spec as spec_lib
from research.data import splits as splits_lib

FINE_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
              "Shirt", "Sneaker", "Bag", "Ankle boot")
COARSE_NAMES = ("tops", "bottoms and dresses", "footwear", "bags")
FINE_TO_COARSE = np.array([0, 1, 0, 1, 0, 2, 0, 2, 3, 2], np.int32)
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
DEFAULT_DIRS = ("/usr/share/datasets/fashion-mnist",
                "~/.keras/datasets/fashion-mnist")


def _given_dir(data_dir, names):
  """`data_dir` if it holds every file in `names`, else DataError naming the
  missing ones."""
  folder = os.path.expanduser(data_dir)
  missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
  if missing:
    raise problems_lib.DataError([problems_lib.Problem(
        folder, None,
        f"missing {', '.join(missing)}; --data_dir must hold the four "
        f"Fashion-MNIST IDX files (without --data_dir they are looked up in "
        f"{', '.join(DEFAULT_DIRS)})")])
  return folder


def find_dir(data_dir):
  """The folder holding all four files; DataError saying what is missing.

  An explicit `data_dir` is the only place looked at: falling back to another
  copy would hide a typo and record a folder the run did not read.
  """
  names = [name for pair in FILES.values() for name in pair]
  if data_dir:
    return _given_dir(data_dir, names)
  candidates = [os.path.expanduser(d) for d in DEFAULT_DIRS]
  for folder in candidates:
    if all(os.path.isfile(os.path.join(folder, n)) for n in names):
      return folder
  raise problems_lib.DataError([problems_lib.Problem(
      "fashion_mnist", None,
      f"files {', '.join(names)} not found in any of: {', '.join(candidates)}."
      " Install them with `apt-get install dataset-fashion-mnist` (Debian/"
      "Ubuntu, into /usr/share/datasets/fashion-mnist) or download them from "
      "https://github.com/zalandoresearch/fashion-mnist into --data_dir")])


def read_split(folder, split):
  """(images [n, 28, 28] uint8, labels [n] int32, problems) of one split."""
  image_path, label_path = (os.path.join(folder, n) for n in FILES[split])
  pixels, found = idx.read(image_path, ndim=3)
  labels, label_problems = idx.read(label_path, ndim=1)
  found += label_problems
  if found:
    return None, None, found
  if len(pixels) != len(labels):
    return None, None, [problems_lib.Problem(
        label_path, None, f"{len(labels)} labels for {len(pixels)} images in "
        f"{image_path}")]
  labels = labels.astype(np.int32)
  found = [problems_lib.Problem(label_path, int(i) + 1,
                                f"fine label {labels[i]} out of range [0, 10)")
           for i in np.flatnonzero(labels >= len(FINE_NAMES))]
  return pixels, labels, found


def load(data_cfg, seed):
  """Loads Fashion-MNIST as [28, 28, 1] images with coarse and fine labels.

  Args:
    data_cfg: config.DataConfig (data_dir, validation_share, augment_*).
    seed: seed of the validation carve-out.

  Returns:
    DataSpec with 4 coarse and 10 fine classes.
  """
  folder = find_dir(data_cfg.data_dir)
  arrays, found = {}, []
  for split in FILES:
    pixels, fine, split_problems = read_split(folder, split)
    arrays[split] = (pixels, fine)
    found += split_problems
  problems_lib.raise_if_any(found)
  arrays = splits_lib.with_validation_carved(
      arrays, data_cfg.validation_share, seed)
  image_arrays = {
      split: (pixels[..., None], FINE_TO_COARSE[fine], fine)
      for split, (pixels, fine) in splits_lib.ordered(arrays).items()}
  return spec_lib.DataSpec(
      name="fashion_mnist", input_shape=(28, 28, 1), input_kind="image",
      coarse_names=COARSE_NAMES, fine_names=FINE_NAMES,
      splits=spec_lib.image_splits_from_arrays(
          image_arrays, images.augmenter_for(data_cfg)),
      fine_to_coarse=FINE_TO_COARSE)
