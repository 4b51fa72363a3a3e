"""Exact resume: the whole training state at every epoch end, plus weight files.

A `tf.train.CheckpointManager` keeps the last N checkpoints (`state-<epoch>`)
of everything needed to continue bit for bit: every model variable (weights,
BatchNorm statistics, loss-layer state such as GHM EMA counts, the
`head_loss_weights` schedule variable, dropout RNG states), the optimizer
(slots and iteration count, hence the learning-rate schedule position), the
number of finished epochs and the best monitored value so far. A run killed in
the middle of an epoch restarts that epoch from its first batch, in the same
data order (the order is keyed by the epoch; see data.pipeline).

Beside them, Keras weight files for evaluation and export, replaced atomically:
`last.weights.h5` (after every epoch) and `best.weights.h5` (best monitored
value so far).
"""

import math
import os

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
  """

  def __init__(self, model, directory, keep, best_mode):
    self.best_mode = best_mode
    self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    self.best = tf.Variable(-math.inf if best_mode == "max" else math.inf,
                            dtype=tf.float64, trainable=False, name="best")
    # `model.variables` also lists the dropout RNG states, which
    # `model.weights` (and so a plain Checkpoint(model=...)) leaves out.
    checkpoint = tf.train.Checkpoint(
        model_variables=list(model.variables), optimizer=model.optimizer,
        epoch=self.epoch, best=self.best)
    self.manager = tf.train.CheckpointManager(
        checkpoint, directory, max_to_keep=keep, checkpoint_name=STATE_PREFIX)

  def restore(self):
    """Restores the latest checkpoint, if any; returns the finished epochs."""
    latest = self.manager.latest_checkpoint
    if latest:
      self.manager.checkpoint.restore(latest).assert_existing_objects_matched()
    return int(self.epoch.numpy())

  def improves(self, value):
    best = float(self.best.numpy())
    return value > best if self.best_mode == "max" else value < best

  def save(self, finished_epochs):
    self.epoch.assign(finished_epochs)
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
    if self.state.improves(value):
      self.state.best.assign(value)
      save_weights_atomically(self.model,
                              os.path.join(self.directory, BEST_WEIGHTS))
    self.state.save(epoch + 1)
