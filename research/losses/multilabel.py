"""Multilabel categorical cross-entropy over the joined coarse+fine logits.

Each example is a set of two positive labels in the joined vector
s = [coarse logits, fine logits]: the coarse class and num_coarse + the fine
class. The loss (Su Jianlin's multilabel softmax CE) is

    log(1 + sum_{negatives} e^{s_n}) + log(1 + sum_{positives} e^{-s_p})

which pushes every positive above 0 and every negative below 0, so the two
highest logits are the predicted label set.

It needs both heads at once, so it is a *joint* loss (`joint = True`): the
model calls it once with the label and logit dicts instead of once per head.
A missing label (-1) removes its whole group from the loss (its classes are
neither positive nor negative); an example with both labels missing counts
for nothing.
"""

import tensorflow as tf

from research.labels import flat_labels
from research.losses import base


class MultilabelCE(base.HeadLoss):
  """Joint loss over the joined label vector; see the module docstring."""

  joint = True

  def __init__(self, num_classes, class_weights=None, **kwargs):
    if class_weights is not None:
      raise ValueError("multilabel_ce takes no class weights: it has no "
                       "per-head class axis to weight")
    super().__init__(num_classes, **kwargs)

  def call(self, labels, logits, sample_weight=None, training=False):
    """Returns (loss_sum, count) on this replica.

    Args:
      labels: {"coarse": [batch], "fine": [batch]} int, -1 where missing.
      logits: {"coarse": [batch, num_coarse], "fine": [batch, num_fine]}.
      sample_weight: optional [batch] weights.
      training: unused.
    """
    del training
    joined = tf.concat([tf.cast(logits["coarse"], tf.float32),
                        tf.cast(logits["fine"], tf.float32)], axis=-1)
    positive, considered, valid = joined_targets(
        labels, tf.shape(logits["coarse"])[-1], tf.shape(logits["fine"])[-1])
    negative = considered & ~positive
    losses = (_log1p_sum_exp(joined, negative) +
              _log1p_sum_exp(-joined, positive))  # [batch]
    weights = tf.ones_like(losses)
    if sample_weight is not None:
      weights = tf.cast(tf.reshape(sample_weight, [-1]), tf.float32)
    loss_sum = tf.reduce_sum(tf.where(valid, losses * weights, 0.0))
    return loss_sum, tf.reduce_sum(tf.cast(valid, tf.float32))


def joined_targets(labels, num_coarse, num_fine):
  """Masks over the joined vector of width num_coarse + num_fine.

  Returns:
    positive [batch, C+F] bool: the true coarse and num_coarse + true fine.
    considered [batch, C+F] bool: the groups whose label is present.
    valid [batch] bool: at least one label present.
  """
  groups = []
  for head, width in (("coarse", num_coarse), ("fine", num_fine)):
    head_labels = flat_labels(labels[head])
    present = head_labels >= 0  # [batch]
    one_hot = tf.one_hot(tf.maximum(head_labels, 0), width, on_value=True,
                         off_value=False, dtype=tf.bool)
    groups.append((one_hot & present[:, None],
                   tf.broadcast_to(present[:, None], tf.shape(one_hot))))
  positive = tf.concat([groups[0][0], groups[1][0]], axis=-1)
  considered = tf.concat([groups[0][1], groups[1][1]], axis=-1)
  return positive, considered, tf.reduce_any(considered, axis=-1)


def _log1p_sum_exp(scores, selected):
  """log(1 + sum over selected entries of e^score), stably; [batch]."""
  masked = tf.where(selected, scores, float("-inf"))
  zeros = tf.zeros_like(scores[:, :1])
  return tf.reduce_logsumexp(tf.concat([zeros, masked], axis=-1), axis=-1)
