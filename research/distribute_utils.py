"""All-reduce helpers shared by the model and the stateful losses.

Kept apart from `research.model` so losses can reduce across replicas
without importing the model that imports them.
"""

import tensorflow as tf


def global_sum(value):
  """Sum of `value` over the replicas in sync (the value itself on one)."""
  context = tf.distribute.get_replica_context()
  if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
    return value
  return context.all_reduce(tf.distribute.ReduceOp.SUM, value)
