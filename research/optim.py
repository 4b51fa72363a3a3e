"""Optimizers and learning-rate schedules, built from plain config values."""

import keras

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")


def schedule(name, learning_rate, total_steps):
  """Learning rate (a float or a keras schedule) for `total_steps` steps."""
  if name == "constant":
    return learning_rate
  if name == "cosine":
    return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
  raise ValueError(f"unknown lr_schedule {name!r}; expected one of {SCHEDULES}")


def build(optim_cfg, total_steps):
  """Builds the optimizer of `optim_cfg` (config.OptimConfig)."""
  rate = schedule(optim_cfg.lr_schedule, optim_cfg.learning_rate, total_steps)
  if optim_cfg.optimizer == "adam":
    return keras.optimizers.Adam(rate)
  if optim_cfg.optimizer == "adamw":
    return keras.optimizers.AdamW(rate, weight_decay=optim_cfg.weight_decay)
  if optim_cfg.optimizer == "sgd":
    return keras.optimizers.SGD(rate, momentum=0.9)
  raise ValueError(f"unknown optimizer {optim_cfg.optimizer!r}; expected one "
                   f"of {OPTIMIZERS}")
