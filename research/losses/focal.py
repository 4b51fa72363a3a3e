"""Categorical focal loss (Lin et al., 2017) on softmax logits.

`-alpha[y] * (1 - p_y)^gamma * log p_y`. The modulating factor is computed as
`exp(gamma * log(1 - p_y))` with `log(1 - p_y) = logsumexp(other logits) -
logsumexp(all logits)`, which stays finite (with finite gradients) even when
p_y rounds to 1, and equals exactly 1 for gamma = 0 (plain cross-entropy).
"""

import tensorflow as tf

from research.losses import base


class Focal(base.HeadLoss):
  """Down-weights examples the model already classifies confidently."""

  def __init__(self, num_classes, gamma=2.0, alpha=None, **kwargs):
    super().__init__(num_classes, **kwargs)
    if gamma < 0:
      raise ValueError(f"focal gamma must be >= 0, got {gamma}")
    if alpha is not None and len(alpha) != num_classes:
      raise ValueError(f"focal alpha needs one value per class "
                       f"({num_classes}), got {len(alpha)}")
    self.gamma = gamma
    self.alpha = (None if alpha is None else
                  tf.constant(alpha, self.compute_dtype))

  def per_example(self, labels, logits):
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # [batch, C]
    true_log_prob = tf.gather(log_probs, labels, batch_dims=1)  # [batch]
    is_true = tf.one_hot(labels, self.num_classes, on_value=True,
                         off_value=False)  # [batch, C]
    # Half the dtype's minimum: exp() of it underflows to 0 without an inf.
    others = tf.where(is_true, logits.dtype.min / 2, logits)  # [batch, C]
    log_rest = (tf.reduce_logsumexp(others, axis=-1) -
                tf.reduce_logsumexp(logits, axis=-1))  # [batch] log(1 - p_y)
    losses = -tf.exp(self.gamma * log_rest) * true_log_prob
    if self.alpha is not None:
      losses *= tf.gather(self.alpha, labels)
    return losses
