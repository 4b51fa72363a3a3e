"""Softmax cross-entropy from logits, plain and with label smoothing."""

import tensorflow as tf

from research.losses import base


class CrossEntropy(base.HeadLoss):
  """Sparse softmax cross-entropy; stable because it works on log-softmax."""

  def per_example(self, labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits)


class LabelSmoothing(base.HeadLoss):
  """CE against (1 - epsilon) * onehot(label) + epsilon / num_classes.

  Takes sparse integer labels, so it works with missing labels like every
  other loss; epsilon = 0 is plain cross-entropy.
  """

  def __init__(self, num_classes, epsilon=0.1, **kwargs):
    super().__init__(num_classes, **kwargs)
    if not 0 <= epsilon < 1:
      raise ValueError(
          f"label smoothing epsilon must be in [0, 1), got {epsilon}")
    self.epsilon = epsilon

  def per_example(self, labels, logits):
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # [batch, C]
    true_log_prob = tf.gather(log_probs, labels, batch_dims=1)  # [batch]
    mean_log_prob = tf.reduce_mean(log_probs, axis=-1)  # [batch]
    return -((1.0 - self.epsilon) * true_log_prob +
             self.epsilon * mean_log_prob)
