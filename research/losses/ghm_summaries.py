"""TensorBoard records of the GHM histograms, written under `train/`.

Per GHM head, at every epoch end (step = epoch, like the other epoch scalars):
  ghm/<head>_density            histogram over g in [0, 1] of the EMA bin
                                counts, normalised to shares (what the
                                weights are computed from);
  ghm/<head>_lowest_bin_share   share of valid elements in the lowest bin at
                                the last training step (easy examples);
  ghm/<head>_highest_bin_share  same for the highest bin (outliers, often
                                label noise).
"""

import os

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.histogram import metadata as histogram_metadata

from research.losses import ghm


def ghm_losses(model):
  """The GHM loss layers the model owns (direct children), in order."""
  return [layer for layer in model.layers
          if isinstance(layer, ghm.GradientHarmonized)]


def density_histogram(bin_counts):
  """[bins, 3] rows (left edge, right edge, share) of EMA bin counts."""
  counts = np.asarray(bin_counts, np.float64)
  edges = np.linspace(0.0, 1.0, len(counts) + 1)
  shares = counts / counts.sum() if counts.sum() > 0 else counts
  return np.stack([edges[:-1], edges[1:], shares], axis=1)


class GhmSummaries(keras.callbacks.Callback):
  """Writes the histogram state of every GHM loss of the model."""

  def __init__(self, log_dir):
    super().__init__()
    self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))

  def on_epoch_end(self, epoch, logs=None):
    with self.writer.as_default():
      for loss in ghm_losses(self.model):
        shares = loss.last_bin_share()  # [bins]
        tf.summary.write(
            f"ghm/{loss.head}_density",
            density_histogram(loss.bin_counts.numpy()), step=epoch,
            metadata=histogram_metadata.create_summary_metadata(
                display_name=f"ghm/{loss.head}_density",
                description="Shares of the EMA gradient-norm bin counts."))
        tf.summary.scalar(f"ghm/{loss.head}_lowest_bin_share", shares[0],
                          step=epoch)
        tf.summary.scalar(f"ghm/{loss.head}_highest_bin_share", shares[-1],
                          step=epoch)
    self.writer.flush()

  def on_train_end(self, logs=None):
    self.writer.close()


def callbacks_for(model, log_dir):
  """[GhmSummaries] when the model uses a GHM loss, else []."""
  return [GhmSummaries(log_dir)] if ghm_losses(model) else []
