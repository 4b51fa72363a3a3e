"""Logit-adjusted cross-entropy (Menon et al., 2021) for long-tailed heads.

The loss is CE on `logits + tau * log(prior)`, prior counted from the training
split. The shift lives only inside the loss: the model's logits stay plain, so
accuracy and predictions use `argmax(logits)`, which is what makes the
adjustment favour rare classes at test time. The reported loss of every split
is the adjusted one, so train and validation losses stay comparable.
"""

import numpy as np
import tensorflow as tf

from research.losses import base
from research.losses import class_balance


class LogitAdjusted(base.HeadLoss):
  """Softmax CE with the logits shifted by tau * log(class prior)."""

  def __init__(self, num_classes, class_counts, tau=1.0, **kwargs):
    super().__init__(num_classes, **kwargs)
    if len(class_counts) != num_classes:
      raise ValueError(f"logit adjustment needs {num_classes} class counts, "
                       f"got {len(class_counts)}")
    self.tau = tau
    self.adjustment = tf.constant(
        tau * np.log(class_balance.prior(class_counts)),
        self.compute_dtype)  # [C]

  def per_example(self, labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits + self.adjustment)
