"""Exact resume: the whole training state at every epoch end, plus weight files.

A `tf.train.CheckpointManager` keeps the last N checkpoints (`state-<epoch>`)
of everything needed to continue bit for bit: every model variable (weights,
BatchNorm statistics, loss-layer state such as GHM EMA counts, the
`head_loss_weights` schedule variable, dropout RNG states), the optimizer
(slots and iteration count, hence the learning-rate schedule position), the
number of finished epochs, the best monitored value so far and the run's wall
seconds. A run killed in the middle of an epoch restarts that epoch from its
first batch, in the same data order (the order is keyed by the epoch; see
data.pipeline).

Beside them, Keras weight files for evaluation and export, replaced atomically:
`last.weights.h5` (after every epoch) and `best.weights.h5` (best monitored
value so far).
"""

import math
import os
import time

from absl import logging
import keras
import tensorflow as tf

from research import config

MODES = ("max", "min")
STATE_PREFIX = "state"
LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"


class TrainingState:
  """The checkpointed training state of one run; create inside strategy.scope().

  Args:
    model: a compiled model whose optimizer is built.
    directory: checkpoint folder (created on first save).
    keep: how many epoch checkpoints to keep.
    best_mode: "max" or "min": which way the monitored value improves.
    started: `time.perf_counter()` when this process began the run; the
      run's wall time adds the seconds earlier processes checkpointed.
  """

  def __init__(self, model, directory, keep, best_mode, started=None):
    self.best_mode = best_mode
    self.started = time.perf_counter() if started is None else started
    self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    self.best = tf.Variable(-math.inf if best_mode == "max" else math.inf,
                            dtype=tf.float64, trainable=False, name="best")
    # Wall seconds of the run up to the checkpoint, so a resumed run's time
    # counts the processes before it (not the part of an epoch they lost).
    self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False,
                               name="seconds")
    self._seconds_before = 0.0
    # `model.variables` also lists the dropout RNG states, which
    # `model.weights` (and so a plain Checkpoint(model=...)) leaves out.
    self._untimed_state = dict(
        model_variables=list(model.variables), optimizer=model.optimizer,
        epoch=self.epoch, best=self.best)
    checkpoint = tf.train.Checkpoint(**self._untimed_state,
                                     seconds=self.seconds)
    self.manager = tf.train.CheckpointManager(
        checkpoint, directory, max_to_keep=keep, checkpoint_name=STATE_PREFIX)

  def restore(self):
    """Restores the latest checkpoint, if any; returns the finished epochs."""
    latest = self.manager.latest_checkpoint
    if latest:
      timed = any(name.startswith("seconds/")
                  for name, _ in tf.train.list_variables(latest))
      # Checkpoints written before runs were timed resume with 0 seconds.
      checkpoint = (self.manager.checkpoint if timed else
                    tf.train.Checkpoint(**self._untimed_state))
      checkpoint.restore(latest).assert_existing_objects_matched()
    self._seconds_before = float(self.seconds.numpy())
    return int(self.epoch.numpy())

  def wall_seconds(self):
    """Seconds of the run so far: earlier processes' and this one's."""
    return self._seconds_before + time.perf_counter() - self.started

  def improves(self, value):
    """True if `value` beats the best so far; never for NaN (a metric with no
    examples behind it is undefined), as NaN compares false."""
    best = float(self.best.numpy())
    return value > best if self.best_mode == "max" else value < best

  def save(self, finished_epochs):
    self.epoch.assign(finished_epochs)
    self.seconds.assign(self.wall_seconds())
    return self.manager.save(checkpoint_number=finished_epochs)


def check_monitored(best_metric, logged_names):
  """Raises config.ConfigError unless `best_metric` is one of `logged_names`,
  so a misspelt --best_metric stops before training instead of after an
  epoch."""
  if best_metric not in logged_names:
    raise config.ConfigError(
        f"--best_metric={best_metric} is not a logged metric; expected one "
        f"of: {', '.join(sorted(logged_names))}")


def save_weights_atomically(model, path):
  """`model.save_weights(path)` through a temporary file and a rename."""
  folder, name = os.path.split(path)
  temporary = os.path.join(folder, f".partial-{name}")
  model.save_weights(temporary)
  os.replace(temporary, path)


class EpochCheckpoints(keras.callbacks.Callback):
  """At each epoch end: weight files first, then the state checkpoint.

  That order makes a kill at any point safe: the state never claims an epoch
  whose weight files are missing, and replaying an epoch rewrites identical
  files.

  Args:
    state: TrainingState.
    directory: folder of the weight files.
    best_metric: logged name to monitor, e.g. "val_fine/accuracy".
  """

  def __init__(self, state, directory, best_metric):
    super().__init__()
    self.state = state
    self.directory = directory
    self.best_metric = best_metric

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    if self.best_metric not in logs:
      raise ValueError(f"--best_metric={self.best_metric} is not logged; "
                       f"expected one of {sorted(logs)}")
    os.makedirs(self.directory, exist_ok=True)
    save_weights_atomically(self.model,
                            os.path.join(self.directory, LAST_WEIGHTS))
    value = float(logs[self.best_metric])
    if math.isnan(value):
      logging.warning(
          "--best_metric=%s is NaN after epoch %d (undefined when no "
          "example has the labels it needs); %s is not updated",
          self.best_metric, epoch + 1, BEST_WEIGHTS)
    if self.state.improves(value):
      self.state.best.assign(value)
      save_weights_atomically(self.model,
                              os.path.join(self.directory, BEST_WEIGHTS))
    self.state.save(epoch + 1)
