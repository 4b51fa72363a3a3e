"""Gradient-norm density of the training set under CE vs GHM (GHM paper, Fig. 1).

For softmax CE the gradient at the logits is `softmax(z) - onehot(y)`; its norm
divided by sqrt(2) lies in [0, 1] (0 = confidently right, 1 = all mass on one
wrong class). A CE-trained model leaves a huge mass of easy examples near 0 and
a bump of very hard ones (often mislabelled) near 1; GHM reweights by the
inverse density of this norm, which should flatten both ends.

    python -m research.evaluate --model_dir=RUN_CE --split=train
    python -m research.evaluate --model_dir=RUN_GHM --split=train
    python -m experiments.ghm_density --ce_logits=RUN_CE/logits_train.npz \\
        --ghm_logits=RUN_GHM/logits_train.npz [--ghm_head=fine] \\
        [--output=ghm_density.png]
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
from absl import app  # pylint: disable=g-import-not-at-top

from research import config  # pylint: disable=g-import-not-at-top
from research import evaluation  # pylint: disable=g-import-not-at-top
from research import flags as flags_lib  # pylint: disable=g-import-not-at-top

FLAGS = flags_lib.FLAGS
BINS = 30


def gradient_norms(logits, labels):
  """||softmax(logits) - onehot(labels)|| / sqrt(2) per labelled example.

  Args:
    logits: [n, classes].
    labels: [n] int, -1 = missing (left out).

  Returns:
    [n_labelled] floats in [0, 1].
  """
  logits = np.asarray(logits, np.float64)
  labels = np.asarray(labels)
  valid = labels >= 0
  probabilities = evaluation.softmax(logits[valid])
  labels = labels[valid]
  probabilities[np.arange(len(labels)), labels] -= 1.0  # softmax - onehot
  return np.linalg.norm(probabilities, axis=1) / np.sqrt(2.0)


def density(norms, bins=BINS):
  """(edges [bins + 1], fraction of examples per bin [bins]) over [0, 1]."""
  counts, edges = np.histogram(np.clip(norms, 0.0, 1.0), bins=bins,
                               range=(0.0, 1.0))
  return edges, counts / max(len(norms), 1)


def plot(norms_by_model, path, title, bins=BINS):
  """Writes the densities of several models as log-scale step histograms.

  Args:
    norms_by_model: {label: [n] gradient norms}, e.g. {"CE": ..., "GHM": ...}.
    path: PNG to write.
    title: plot title.
    bins: equal-width histogram bins over [0, 1].
  """
  figure, axes = plt.subplots(figsize=(6, 4))
  for label, norms in norms_by_model.items():
    edges, fraction = density(norms, bins)
    axes.stairs(fraction, edges, label=f"{label} (n={len(norms)})")
  axes.set_yscale("log")
  axes.set_xlim(0, 1)
  axes.set_xlabel("gradient norm  ||softmax - onehot|| / sqrt(2)")
  axes.set_ylabel("fraction of examples")
  axes.set_title(title)
  axes.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def load_norms(npz_path, head, flag):
  """Gradient norms of one head from a logits_<split>.npz of research.evaluate.

  Raises:
    config.ConfigError naming `--<flag>` when the file is missing or is not
    such an archive.
  """
  keys = (f"{head}_logits", f"{head}_labels")
  expected = (f"expected a logits_<split>.npz of research.evaluate, holding "
              f"{' and '.join(keys)}")
  if not os.path.isfile(npz_path):
    raise config.ConfigError(f"--{flag}={npz_path}: no such file; {expected}")
  try:
    saved = np.load(npz_path)
  except (OSError, ValueError) as error:
    raise config.ConfigError(f"--{flag}={npz_path}: not readable as .npz "
                             f"({error}); {expected}") from error
  if not isinstance(saved, np.lib.npyio.NpzFile):  # a .npy gives one array
    raise config.ConfigError(f"--{flag}={npz_path}: a single array, not an "
                             f".npz archive; {expected}")
  with saved:
    if not all(key in saved.files for key in keys):
      raise config.ConfigError(f"--{flag}={npz_path}: holds "
                               f"{', '.join(saved.files)}; {expected}")
    return gradient_norms(saved[keys[0]], saved[keys[1]])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.ce_logits or not FLAGS.ghm_logits:
    raise app.UsageError("--ce_logits and --ghm_logits are required "
                         "(logits_train.npz files from research.evaluate)")
  output = FLAGS.output or "ghm_density.png"
  try:
    norms = {"CE": load_norms(FLAGS.ce_logits, FLAGS.ghm_head, "ce_logits"),
             "GHM": load_norms(FLAGS.ghm_logits, FLAGS.ghm_head, "ghm_logits")}
  except config.ConfigError as error:
    sys.exit(f"error: {error}")
  plot(norms, output,
       f"Gradient-norm density, {FLAGS.ghm_head} head, training set")
  print(f"plot written to {output}")


if __name__ == "__main__":
  app.run(main)
