"""Loss-weight schedules: (w_coarse, w_fine) by epoch, B-CNN style.

`--loss_weight_schedule=0:0.9/0.1,3:0.5/0.5,6:0.1/0.9` trains mostly the
coarse head first and moves the weight to the fine head later. The weights
live in the model's non-trainable variable `head_loss_weights`, which
`train_step` reads, so changing them needs no recompiling; a callback assigns
them at the start of every epoch (from the epoch number, so a resumed run gets
the right weights) and adds them to the epoch logs as `loss_weight/coarse` and
`loss_weight/fine`, which `summaries.EpochScalars` writes under `train/`.
"""

import keras

FLAG = "--loss_weight_schedule"


def _entry(text):
  """(epoch, coarse, fine) from 'epoch:coarse/fine'."""
  epoch, _, weights = text.partition(":")
  coarse, _, fine = weights.partition("/")
  try:
    parsed = (int(epoch), float(coarse), float(fine))
  except ValueError:
    raise ValueError(f"{FLAG}: bad entry {text!r}; expected epoch:coarse/fine, "
                     "e.g. 3:0.5/0.5") from None
  if parsed[0] < 0 or parsed[1] < 0 or parsed[2] < 0:
    raise ValueError(f"{FLAG}: bad entry {text!r}; epochs and weights must be "
                     "non-negative")
  return parsed


def parse(text):
  """Parses a schedule string; "" gives ().

  Args:
    text: comma-separated `epoch:coarse/fine` entries, epochs increasing from 0.

  Returns:
    A tuple of (epoch, coarse_weight, fine_weight).

  Raises:
    ValueError naming the flag and the bad entry.
  """
  if not text:
    return ()
  schedule = tuple(_entry(item.strip()) for item in text.split(","))
  epochs = [epoch for epoch, _, _ in schedule]
  if epochs[0] != 0:
    raise ValueError(f"{FLAG}: the first entry must be for epoch 0, got "
                     f"{epochs[0]}")
  if any(later <= earlier for earlier, later in zip(epochs, epochs[1:])):
    raise ValueError(f"{FLAG}: epochs must increase, got {epochs}")
  return schedule


def for_config(loss_cfg):
  """The run's schedule: the parsed flag, or the static --loss_weights."""
  return parse(loss_cfg.loss_weight_schedule) or (
      (0, *loss_cfg.loss_weights),)


def weights_at(schedule, epoch):
  """(coarse, fine) weights of the last entry starting at or before `epoch`."""
  current = schedule[0]
  for entry in schedule:
    if entry[0] <= epoch:
      current = entry
  return current[1], current[2]


class LossWeightSchedule(keras.callbacks.Callback):
  """Assigns `model.head_loss_weights` each epoch and logs the values used.

  Place it before `summaries.EpochScalars`, so the logged weights reach it.
  """

  def __init__(self, schedule):
    super().__init__()
    self.schedule = schedule

  def on_epoch_begin(self, epoch, logs=None):
    self.model.head_loss_weights.assign(weights_at(self.schedule, epoch))

  def on_epoch_end(self, epoch, logs=None):
    if logs is None:
      return
    coarse, fine = self.model.head_loss_weights.numpy()
    logs["loss_weight/coarse"] = float(coarse)
    logs["loss_weight/fine"] = float(fine)
