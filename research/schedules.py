"""Learning rates over a run: a warmup in front of any Keras schedule or
constant rate, and the per-epoch `learning_rate` log."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="twohead")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
  """Rises linearly to `peak` over `warmup_steps`, then follows `after`.

  Warmup step k (0-based) uses peak * (k + 1) / warmup_steps: no step is
  spent at rate 0 and the last warmup step is at the peak. `after` (a
  schedule, or a constant rate) then runs from its own step 0, so a cosine
  decay still spans all the steps it was built for.
  """

  def __init__(self, peak, warmup_steps, after):
    if warmup_steps < 1:
      raise ValueError(f"warmup needs at least one step, got {warmup_steps}")
    self.peak, self.warmup_steps, self.after = peak, warmup_steps, after

  def __call__(self, step):
    step = ops.cast(step, "float32")
    warming = self.peak * (step + 1.0) / self.warmup_steps
    if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule):
      later = self.after(ops.maximum(step - self.warmup_steps, 0.0))
    else:
      later = ops.convert_to_tensor(self.after, "float32")
    return ops.where(step < self.warmup_steps, warming, later)

  def get_config(self):
    after = self.after
    if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
      after = keras.optimizers.schedules.serialize(after)
    return {"peak": self.peak, "warmup_steps": self.warmup_steps,
            "after": after}

  @classmethod
  def from_config(cls, config):
    after = config["after"]
    if isinstance(after, dict):
      after = keras.optimizers.schedules.deserialize(after)
    return cls(config["peak"], config["warmup_steps"], after)


class LearningRateLog(keras.callbacks.Callback):
  """Logs `learning_rate`: the rate of the epoch's first step.

  Place it before `summaries.EpochScalars`, so the logged rate reaches it.
  """

  def on_epoch_begin(self, epoch, logs=None):
    self.first_step_rate = float(
        ops.convert_to_numpy(self.model.optimizer.learning_rate))

  def on_epoch_end(self, epoch, logs=None):
    if logs is not None:
      logs["learning_rate"] = self.first_step_rate
