"""The two labels of an example, and label tensors as every loss and metric
wants them."""

import tensorflow as tf

# The heads, in the order every per-head dict, table and file lists them.
HEADS = ("coarse", "fine")


def flat_labels(labels):
  """[batch] int32 labels from any [batch] or [batch, 1] integer tensor."""
  labels = tf.convert_to_tensor(labels)
  if labels.shape.rank != 1:  # a no-op reshape is still an op every step
    labels = tf.reshape(labels, [-1])
  return tf.cast(labels, tf.int32)
