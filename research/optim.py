"""Optimizers and learning-rate schedules, built from plain config values."""

import keras

from research import optimizers

_CLASSES = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
            "radam": optimizers.RAdam, "sgd": keras.optimizers.SGD}
OPTIMIZERS = tuple(_CLASSES)
SCHEDULES = ("constant", "cosine")


def schedule(name, learning_rate, total_steps):
  """Learning rate (a float or a keras schedule) for `total_steps` steps."""
  if name == "constant":
    return learning_rate
  if name == "cosine":
    return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
  raise ValueError(f"unknown lr_schedule {name!r}; expected one of {SCHEDULES}")


def _optimizer_class(name):
  if name not in _CLASSES:
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
  return _CLASSES[name]


def build(optim_cfg, total_steps):
  """Builds the optimizer of `optim_cfg` (config.OptimConfig).

  Args:
    optim_cfg: config.OptimConfig.
    total_steps: training steps of the run, for the schedule.

  Returns:
    A keras optimizer, wrapped in Lookahead when its sync period is > 0.
  """
  optimizer_cls = _optimizer_class(optim_cfg.optimizer)
  kwargs = {"learning_rate": schedule(optim_cfg.lr_schedule,
                                      optim_cfg.learning_rate, total_steps)}
  if optim_cfg.optimizer == "adamw":
    kwargs["weight_decay"] = optim_cfg.weight_decay
  if optim_cfg.optimizer == "sgd":
    kwargs["momentum"] = 0.9
  if optim_cfg.lookahead_sync_period > 0:
    optimizer_cls = optimizers.with_lookahead(optimizer_cls)
    kwargs.update(sync_period=optim_cfg.lookahead_sync_period,
                  slow_step_size=optim_cfg.lookahead_step_size)
  return optimizer_cls(**kwargs)
