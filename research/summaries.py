"""Run records: config.json, results.json and per-head TensorBoard scalars.

JSON files are written atomically (temp file + rename) so a preempted run never
leaves a half-written record behind.
"""

import json
import os
import tempfile
import time

import keras
import tensorflow as tf


def write_json(path, payload):
  """Writes `payload` as JSON to `path` atomically."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  with tempfile.NamedTemporaryFile("w", dir=folder, delete=False,
                                   suffix=".tmp") as handle:
    json.dump(payload, handle, indent=2, sort_keys=True)
    handle.write("\n")
  os.replace(handle.name, path)


class EpochScalars(keras.callbacks.Callback):
  """Writes every epoch log under its own tag: `coarse/loss`, `fine/accuracy`.

  Training values go to `<log_dir>/train`, `val_*` values to
  `<log_dir>/validation`, so the tag names match the metric names exactly
  (the stock TensorBoard callback prefixes them with `epoch_`).
  """

  def __init__(self, log_dir):
    super().__init__()
    self.writers = {split: tf.summary.create_file_writer(
        os.path.join(log_dir, split)) for split in ("train", "validation")}

  def on_epoch_end(self, epoch, logs=None):
    for name, value in (logs or {}).items():
      split, tag = ("validation", name[4:]) if name.startswith("val_") else (
          "train", name)
      with self.writers[split].as_default():
        tf.summary.scalar(tag, value, step=epoch)
    for writer in self.writers.values():
      writer.flush()

  def on_train_end(self, logs=None):
    for writer in self.writers.values():
      writer.close()


class Throughput(keras.callbacks.Callback):
  """Measures training steps per second, leaving out the first (tracing) epoch.

  Counts steps from the batch indices Keras passes, not from the number of
  callbacks, so it stays right with steps_per_execution > 1.
  """

  def __init__(self):
    super().__init__()
    self.steps = 0
    self.seconds = 0.0
    self._start = self._last = None
    self._epoch_steps = 0

  def on_epoch_begin(self, epoch, logs=None):
    self._start = None
    self._epoch_steps = 0

  def on_train_batch_begin(self, batch, logs=None):
    if self._start is None:
      self._start = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    # With steps_per_execution N, one call covers N steps and `batch` is the
    # index of its last step (past the end for a short final call).
    steps_in_epoch = self.params.get("steps") or batch + 1
    self._epoch_steps = min(batch + 1, steps_in_epoch)
    self._last = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    if epoch == 0 and self.params.get("epochs", 1) > 1:
      return
    self.steps += self._epoch_steps
    self.seconds += self._last - self._start

  @property
  def steps_per_second(self):
    return self.steps / self.seconds if self.seconds else float("nan")
