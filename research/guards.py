"""Stops training at the first non-finite loss, before it is checkpointed."""

import math

import keras
import numpy as np

OBJECTIVE = "loss"
LOSS_NAMES = {"coarse/loss": "coarse", "fine/loss": "fine",
              OBJECTIVE: "total (weighted heads + regularization)"}


class NonFiniteLossError(RuntimeError):
  """A training step produced a NaN or infinite loss."""


def _scalar(value):
  return float(np.asarray(value).reshape(-1)[0])


class NonFiniteLossGuard(keras.callbacks.Callback):
  """Raises NonFiniteLossError naming the step and the head(s) at fault.

  Only the objective (`loss`) decides: a head loss that blows up makes it
  non-finite too, while a head loss that is NaN because the head has had no
  labelled example yet this epoch (an undefined mean) leaves it finite. The
  heads named are those whose logged loss is non-finite, such a head among
  them. Raising (rather than `stop_training`) ends `fit` before any epoch-end
  callback runs, so the checkpoints of the last good epoch stay untouched.
  Logged losses are epoch-so-far means: a bad step makes them non-finite at
  once and they stay so.

  Args:
    steps_per_epoch: batches per epoch, to name the global step.
  """

  def __init__(self, steps_per_epoch):
    super().__init__()
    self.steps_per_epoch = steps_per_epoch
    self._epoch = 0
    self._first_batch = None

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch = epoch

  def on_train_batch_begin(self, batch, logs=None):
    # Under --steps_per_execution Keras calls back once per execution, with
    # its first batch here and its last at the end.
    self._first_batch = batch

  def on_train_batch_end(self, batch, logs=None):
    values = {name: _scalar(value) for name, value in (logs or {}).items()
              if name in LOSS_NAMES}
    if math.isfinite(values.get(OBJECTIVE, 0.0)):
      return
    bad = [name for name, value in values.items() if not math.isfinite(value)]
    heads = [LOSS_NAMES[name] for name in bad if name != OBJECTIVE] or [
        LOSS_NAMES[OBJECTIVE]]
    shown = ", ".join(f"{name}={values[name]}" for name in sorted(bad))
    raise NonFiniteLossError(
        f"non-finite loss at {self._where(batch)} in head "
        f"{' and '.join(heads)}: {shown}. Training stopped; the checkpoints "
        "of the last finished epoch are kept.")

  def _where(self, last_batch):
    """'training step 14 (epoch 3, batch 4/5)', or the steps of one
    execution, any of which may have been the bad one."""
    first_batch = last_batch if self._first_batch is None else self._first_batch
    offset = self._epoch * self.steps_per_epoch + 1
    epoch = f"epoch {self._epoch + 1}"
    if first_batch == last_batch:
      return (f"training step {offset + last_batch} ({epoch}, batch "
              f"{last_batch + 1}/{self.steps_per_epoch})")
    return (f"training steps {offset + first_batch}-{offset + last_batch} "
            f"({epoch}, batches {first_batch + 1}-{last_batch + 1}/"
            f"{self.steps_per_epoch}, one --steps_per_execution call)")
