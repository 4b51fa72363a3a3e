"""Optimizers Keras core lacks and tensorflow-addons used to provide.

RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and
Beyond") and Lookahead (Zhang et al. 2019), written on the Keras 3 optimizer
API so they run on any strategy and save their slots with checkpoints.
"""

import keras
from keras import ops


class RAdam(keras.optimizers.Optimizer):
  """Adam whose adaptive step is switched on only once its variance is tractable.

  While the length of the approximated simple moving average rho_t is <= 4
  the update is bias-corrected momentum SGD; afterwards it is Adam scaled by
  the rectification term r_t.
  """

  def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999,
               epsilon=1e-7, name="radam", **kwargs):
    super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon

  def build(self, var_list):
    if self.built:
      return
    super().build(var_list)
    self._momentums, self._velocities = self.add_optimizer_variables(
        var_list, ["momentum", "velocity"])

  def update_step(self, gradient, variable, learning_rate):
    dtype = variable.dtype
    lr = ops.cast(learning_rate, dtype)
    gradient = ops.cast(gradient, dtype)
    step = ops.cast(self.iterations + 1, dtype)
    # convert_to_tensor, not cast: cast would round the betas to float32 first.
    beta_1_power = ops.power(ops.convert_to_tensor(self.beta_1, dtype), step)
    # rho_t is a small difference of numbers near rho_inf (1999): in float32,
    # 1 - beta_2**t from a rounded beta_2 put r_t 2% off at step 5. Both
    # come from the exact 1 - beta_2 through log1p and expm1 instead.
    log_beta_2 = ops.log1p(ops.convert_to_tensor(self.beta_2 - 1.0, dtype))
    beta_2_power = ops.exp(step * log_beta_2)
    beta_2_correction = -ops.expm1(step * log_beta_2)  # 1 - beta_2**t
    index = self._get_variable_index(variable)
    m, v = self._momentums[index], self._velocities[index]
    self.assign_add(m, (gradient - m) * (1 - self.beta_1))
    self.assign_add(v, (ops.square(gradient) - v) * (1 - self.beta_2))
    m_hat = m / (1 - beta_1_power)
    rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0
    rho = rho_inf - 2.0 * step * beta_2_power / beta_2_correction
    rectifier = ops.sqrt(ops.maximum(
        (rho - 4.0) * (rho - 2.0) * rho_inf /
        ((rho_inf - 4.0) * (rho_inf - 2.0) * rho), 0.0))
    adaptive = rectifier * m_hat / (
        ops.sqrt(v / beta_2_correction) + self.epsilon)
    self.assign_sub(variable, lr * ops.where(rho > 4.0, adaptive, m_hat))

  def get_config(self):
    return {**super().get_config(), "beta_1": self.beta_1,
            "beta_2": self.beta_2, "epsilon": self.epsilon}


def with_lookahead(optimizer_cls):
  """Returns a subclass of `optimizer_cls` that adds Lookahead.

  Every `sync_period` steps the slow weights move `slow_step_size` of the way
  to the fast weights and the fast weights restart from them. The sync is a
  `where`, not a branch, so it traces once and runs on any strategy.
  """

  class Lookahead(optimizer_cls):
    """`optimizer_cls` with Lookahead slow weights."""

    def __init__(self, *args, sync_period=6, slow_step_size=0.5, **kwargs):
      super().__init__(*args, **kwargs)
      self.sync_period = sync_period
      self.slow_step_size = slow_step_size

    def build(self, var_list):
      if self.built:
        return
      super().build(var_list)
      self._slow_weights = [
          self.add_variable_from_reference(
              variable, "slow",
              initializer=lambda shape, dtype, v=variable: ops.cast(v, dtype))
          for variable in var_list]

    def update_step(self, gradient, variable, learning_rate):
      super().update_step(gradient, variable, learning_rate)
      slow = self._slow_weights[self._get_variable_index(variable)]
      sync = ops.equal((self.iterations + 1) % self.sync_period, 0)
      synced = slow + self.slow_step_size * (variable - slow)
      self.assign(slow, ops.where(sync, synced, slow))
      self.assign(variable, ops.where(sync, synced, variable))

  Lookahead.__name__ = f"Lookahead{optimizer_cls.__name__}"
  return Lookahead
