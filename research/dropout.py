"""Dropout whose masks do not depend on how the batch is split over replicas."""

import keras
import tensorflow as tf

from research.distribute_utils import replica_rows


class GlobalBatchDropout(keras.layers.Dropout):
  """keras.layers.Dropout with an example's mask fixed by its global row.

  Keras draws a dropout seed from a mirrored seed state, so every replica
  draws the same seed and the k-th example of every replica's shard got the
  same mask. Here every replica draws the mask of the whole global batch from
  that shared seed and keeps its own rows: an example is dropped as it would
  be on one replica, so results stay independent of the replica count.
  """

  def call(self, inputs, training=False):
    if not training or self.rate == 0:
      return inputs
    local_rows = tf.shape(inputs)[0]
    first_row, global_rows = replica_rows(local_rows)
    seed = tf.cast(self.seed_generator.next(), tf.int32)
    noise = tf.random.stateless_uniform(
        tf.concat([[global_rows], tf.shape(inputs)[1:]], axis=0), seed=seed)
    kept = noise[first_row:first_row + local_rows] >= self.rate
    scaled = inputs * tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
    return tf.where(kept, scaled, tf.zeros_like(inputs))
