"""A compiled step's logs travel as one vector, not one tensor per metric.

Keras hands a compiled step's outputs back through a `tf.experimental.Optional`
that is unpacked eagerly into one tensor per log, and its callbacks then turn
each into a Python float. On the default mlp that per-log cost was ~25 us per
step (2-core CPU): our ten logs made a step ~12% slower than the same step
returning one value, and slower than a compile-time-loss model's six logs
(experiments/bench.py). So the step stacks its logs into one float32 vector
and the function Keras calls turns it back into a dict once per call.
"""

import numpy as np
import tensorflow as tf

from research import strategies


def packed(step_function, names):
  """`step_function` returning its dict of scalar logs as a [len(names)]
  float32 vector, in the order of `names`."""

  def packed_step(data):
    logs = step_function(data)
    vector = tf.stack([tf.cast(logs[name], tf.float32) for name in names])
    return strategies.keras_step_outputs(vector)

  return packed_step


def unpacked(function, names):
  """`function` (returning a vector from `packed`) returning a dict
  {name: float}, which Keras' callbacks take as they are."""

  def unpacked_function(iterator):
    values = np.asarray(function(iterator)).tolist()
    return dict(zip(names, values))

  return unpacked_function
