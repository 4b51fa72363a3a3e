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


def replica_rows(local_rows):
  """(first row, global rows): where this replica's batch sits in the global
  batch, whose rows the replicas hold in replica order."""
  context = tf.distribute.get_replica_context()
  replicas = tf.distribute.get_strategy().num_replicas_in_sync
  if context is None or replicas == 1:
    return tf.constant(0, local_rows.dtype), local_rows
  rows = context.all_gather(tf.reshape(local_rows, [1]), axis=0)  # [replicas]
  before = tf.range(replicas) < context.replica_id_in_sync_group
  return (tf.reduce_sum(tf.where(before, rows, tf.zeros_like(rows))),
          tf.reduce_sum(rows))
