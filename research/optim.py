"""Optimizers and learning-rate schedules, built from plain config values."""

import math

import keras

from research import config
from research import optimizers
from research import schedules

_CLASSES = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
            "radam": optimizers.RAdam, "sgd": keras.optimizers.SGD}
OPTIMIZERS = tuple(_CLASSES)
SCHEDULES = ("constant", "cosine")


def schedule(optim_cfg, epochs, steps_per_epoch):
  """Learning rate (a float or a keras schedule) for `epochs` epochs.

  A warmup of `optim_cfg.warmup_epochs` (rounded down to whole steps) comes
  first; `optim_cfg.lr_schedule` spans the steps after it.

  Raises:
    config.ConfigError: if the warmup leaves no step for the schedule.
  """
  # Rounded first: 0.57 * 100 is 56.99999999999999, which int() makes 56.
  warmup_steps = math.floor(round(optim_cfg.warmup_epochs * steps_per_epoch, 6))
  total_steps = epochs * steps_per_epoch
  if warmup_steps >= total_steps:
    raise config.ConfigError(
        f"--warmup_epochs={optim_cfg.warmup_epochs} is {warmup_steps} steps "
        f"but the run has {total_steps} (--epochs={epochs}); expected fewer "
        "warmup epochs than --epochs")
  after = _decay(optim_cfg.lr_schedule, optim_cfg.learning_rate,
                 total_steps - warmup_steps)
  if warmup_steps == 0:
    return after
  return schedules.LinearWarmup(optim_cfg.learning_rate, warmup_steps, after)


def _decay(name, learning_rate, total_steps):
  if name == "constant":
    return learning_rate
  if name == "cosine":
    return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
  raise ValueError(f"unknown lr_schedule {name!r}; expected one of {SCHEDULES}")


def _optimizer_class(name):
  if name not in _CLASSES:
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
  return _CLASSES[name]


def _check_sgd_options(optim_cfg):
  defaults = config.OptimConfig()
  if optim_cfg.optimizer != "sgd" and (
      optim_cfg.sgd_momentum != defaults.sgd_momentum
      or optim_cfg.sgd_nesterov != defaults.sgd_nesterov):
    raise config.ConfigError(
        "--sgd_momentum and --sgd_nesterov apply to --optimizer=sgd only, "
        f"not {optim_cfg.optimizer}")


def build(optim_cfg, epochs, steps_per_epoch):
  """Builds the optimizer of `optim_cfg` (config.OptimConfig).

  Args:
    optim_cfg: config.OptimConfig.
    epochs: training epochs of the run, for the schedule.
    steps_per_epoch: training steps of one epoch.

  Returns:
    A keras optimizer, wrapped in Lookahead when its sync period is > 0.

  Raises:
    config.ConfigError: for SGD options given to another optimizer, or a
      warmup as long as the run.
  """
  _check_sgd_options(optim_cfg)
  optimizer_cls = _optimizer_class(optim_cfg.optimizer)
  kwargs = {"learning_rate": schedule(optim_cfg, epochs, steps_per_epoch)}
  if optim_cfg.optimizer == "adamw":
    kwargs["weight_decay"] = optim_cfg.weight_decay
  if optim_cfg.optimizer == "sgd":
    kwargs.update(momentum=optim_cfg.sgd_momentum,
                  nesterov=optim_cfg.sgd_nesterov)
  if optim_cfg.lookahead_sync_period > 0:
    optimizer_cls = optimizers.with_lookahead(optimizer_cls)
    kwargs.update(sync_period=optim_cfg.lookahead_sync_period,
                  slow_step_size=optim_cfg.lookahead_step_size)
  return optimizer_cls(**kwargs)
