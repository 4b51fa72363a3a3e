"""The contract every head loss follows, so the model can scale any of them.

A head loss returns the *sum* of its weighted per-example (or per-element)
losses on this replica and the *count* it should be normalised by. The model
all-reduces the count across replicas and divides, which makes the loss the
exact global mean whatever the replica count, also with masked labels and an
uneven last batch.

Losses compute in the layer's compute dtype: `losses.build` makes them float32
whatever the global policy; tests build them in float64 to compare with numpy.
"""

import keras
import tensorflow as tf

from research.labels import flat_labels


class HeadLoss(keras.layers.Layer):
  """Base class: a loss for one head, taking logits and integer labels.

  Subclasses implement `per_example(labels, logits)` for a plain weighted
  mean, or override `call` entirely (GHM does, to weight by its histogram).
  Missing labels (-1) contribute nothing. Class weights weight an example by
  the class of its label.
  """

  def __init__(self, num_classes, class_weights=None, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.class_weights = (None if class_weights is None else
                          tf.constant(class_weights, self.compute_dtype))
    # State, if any, is created here with known shapes; nothing to build.
    self.built = True

  def per_example(self, labels, logits):
    """Per-example loss for valid labels. labels [batch] >= 0, logits [batch, C]."""
    raise NotImplementedError

  def call(self, labels, logits, sample_weight=None, training=False):
    """Returns (loss_sum, count) on this replica: both scalars."""
    valid, safe_labels, weights = example_weights(
        labels, sample_weight, self.class_weights, self.compute_dtype)
    losses = self.per_example(safe_labels, tf.cast(logits, self.compute_dtype))
    loss_sum = tf.reduce_sum(tf.where(valid, losses * weights, 0.0))
    return loss_sum, tf.reduce_sum(tf.cast(valid, self.compute_dtype))


def example_weights(labels, sample_weight=None, class_weights=None,
                    dtype=tf.float32):
  """Masks ignored labels and combines sample and class weights.

  Args:
    labels: [batch] integer labels, -1 where missing.
    sample_weight: optional [batch] weights.
    class_weights: optional [num_classes] weights.
    dtype: float dtype of the returned weights.

  Returns:
    valid [batch] bool, safe_labels [batch] int32 (0 where ignored),
    weights [batch] of `dtype`.
  """
  labels = flat_labels(labels)
  valid = labels >= 0
  safe_labels = tf.where(valid, labels, 0)
  weights = tf.ones_like(labels, dtype)
  if sample_weight is not None:
    weights *= tf.cast(tf.reshape(sample_weight, [-1]), dtype)
  if class_weights is not None:
    weights *= tf.cast(tf.gather(class_weights, safe_labels), dtype)
  return valid, safe_labels, weights

