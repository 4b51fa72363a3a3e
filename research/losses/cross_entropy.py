"""Softmax cross-entropy from logits: the reference every other loss reduces to."""

import tensorflow as tf

from research.losses import base


class CrossEntropy(base.HeadLoss):
  """Sparse softmax cross-entropy; stable because it works on log-softmax."""

  def per_example(self, labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits)
