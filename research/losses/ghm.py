"""GHM-C: gradient harmonizing classification loss (Li, Liu, Wang, AAAI 2019).

Each element is weighted by the inverse density of its gradient norm g, so the
many easy elements (g near 0) and the few outliers (g near 1) stop dominating.
The algorithm is mmdetection's `GHMC`: edges k/bins (last edge + 1e-6), only
valid elements counted, per-bin count c_i; each non-empty bin updates its EMA
`S_i <- m * S_i + (1 - m) * c_i` (m = 0: S_i = c_i), weight = tot / S_i,
divided by the number of non-empty bins; loss = sum(w * loss) / tot.

Two forms:
  sigmoid: g = |sigmoid(x) - onehot(y)| per element, binary CE one-vs-rest
    over the head's classes; normalised by valid examples x classes.
  softmax: g = ||softmax(x) - onehot(y)||_2 / sqrt(2), the norm of the CE
    gradient at the logits scaled to [0, 1]; one weight per example, CE loss,
    normalised by valid examples.

The EMA counts (and the last step's counts, for TensorBoard) are model state:
non-trainable variables of this layer, so they are saved with the weights and
restored by checkpoints. Bin counts are summed
over replicas before use, so every replica weights with the global histogram;
the state changes only when `training` is true (never in test_step); an
evaluation batch is weighted with the EMA it would have produced.
Sample and class weights scale the loss; the histogram counts every valid
(labelled) element.
"""

import math

import numpy as np
import tensorflow as tf

from research import distribute_utils
from research.losses import base

FORMS = ("sigmoid", "softmax")


class GradientHarmonized(base.HeadLoss):
  """GHM-C loss for one head; owns that head's histogram state."""

  def __init__(self, num_classes, form="softmax", bins=30, momentum=0.75,
               head="head", **kwargs):
    super().__init__(num_classes, **kwargs)
    if form not in FORMS:
      raise ValueError(f"unknown GHM form {form!r}; expected one of {FORMS}")
    if bins < 1:
      raise ValueError(f"GHM needs at least one bin, got {bins}")
    if not 0 <= momentum < 1:
      raise ValueError(f"GHM momentum must be in [0, 1), got {momentum}")
    self.form, self.bins, self.momentum, self.head = form, bins, momentum, head
    # Inner edges k/bins computed in float32 as mmdetection does; the last
    # edge (1 + 1e-6) only has to hold g <= 1, which both forms guarantee.
    self.inner_edges = [float(np.float32(k) / np.float32(bins))
                        for k in range(1, bins)]
    state = dict(shape=(bins,), initializer="zeros", trainable=False,
                 aggregation="only_first_replica")
    self.bin_counts = self.add_weight(name="bin_counts", **state)
    self.last_counts = self.add_weight(name="last_counts", **state)

  def last_bin_share(self):
    """[bins] share of valid elements per bin at the last training step."""
    counts = self.last_counts.numpy()
    return counts / max(counts.sum(), 1.0)

  def call(self, labels, logits, sample_weight=None, training=False):
    """Returns (loss_sum, count) on this replica: both scalars."""
    valid, safe_labels, weights = base.example_weights(
        labels, sample_weight, self.class_weights, self.compute_dtype)
    logits = tf.cast(logits, self.compute_dtype)  # [batch, C]
    losses, logit_gradients = self.losses_and_logit_gradients(logits,
                                                              safe_labels)
    valid = tf.cast(valid, self.compute_dtype)  # [batch]
    count = tf.reduce_sum(valid)
    weights *= valid  # elements without a label weigh 0
    if self.form == "sigmoid":
      norms = tf.abs(logit_gradients)  # [batch, C]
      weights = weights[:, None]  # [batch, 1], broadcast over the classes
      valid = tf.broadcast_to(valid[:, None], tf.shape(norms))  # [batch, C]
      count *= self.num_classes
    else:
      norms = tf.norm(logit_gradients, axis=-1) / math.sqrt(2.0)  # [batch]
    # Bucketize has an integer output: no gradient flows through the bins.
    bin_index = tf.raw_ops.Bucketize(input=norms,
                                     boundaries=self.inner_edges)
    scales = self.density_weights(bin_index, valid, training) * weights
    return weighted_sum(logits, losses, scales, logit_gradients), count

  def losses_and_logit_gradients(self, logits, labels):
    """Per-element losses and their gradients at the logits, [batch, C] each
    (losses [batch] for softmax): binary CE one-vs-rest, or CE."""
    if self.form == "sigmoid":
      onehot = tf.one_hot(labels, self.num_classes, dtype=logits.dtype)
      return (tf.nn.softplus(logits) - logits * onehot,
              tf.sigmoid(logits) - onehot)
    losses, gradients = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=logits, labels=labels)  # CE and softmax - onehot
    return losses, gradients

  def density_weights(self, bin_index, valid, training):
    """GHM weight of every element from the global histogram of its bins.

    Args:
      bin_index: int32 bin of each element in [0, bins), any shape.
      valid: 1.0 for elements that count, 0.0 for the others; like
        `bin_index`.
      training: update the EMA state when true.

    Returns:
      Weights shaped like `bin_index`; elements that do not count get their
      bin's weight too, for the caller to zero.
    """
    dtype = self.compute_dtype
    counts = tf.math.unsorted_segment_sum(valid, bin_index,
                                          self.bins)  # [bins] on this replica
    counts = distribute_utils.global_sum(counts)  # [bins] global
    total = tf.reduce_sum(counts)  # valid elements on all replicas
    non_empty = counts > 0
    previous = tf.cast(self.bin_counts, dtype)  # [bins]
    updated = tf.where(non_empty, self.momentum * previous +
                       (1.0 - self.momentum) * counts, previous)  # [bins]
    used_bins = tf.reduce_sum(tf.cast(non_empty, dtype))
    # Bins empty in this batch get some weight, but no element gathers it.
    bin_weights = tf.math.divide_no_nan(total, updated * used_bins)  # [bins]
    if training:
      self.bin_counts.assign(tf.cast(updated, self.bin_counts.dtype))
      self.last_counts.assign(tf.cast(counts, self.last_counts.dtype))
    return tf.gather(bin_weights, bin_index)


def weighted_sum(logits, losses, scales, logit_gradients):
  """sum(scales * losses), differentiated as scales * logit_gradients.

  GHM has the losses' gradients at the logits in hand (it bins by their
  norms), so the backward pass is one multiply instead of a second
  differentiation of the loss; on small models a step costs per graph op
  (experiments/bench.py, GHM / CE). `scales` (density times example weights)
  come from integer bins and carry no gradient.
  """

  @tf.custom_gradient
  def forward(logits):
    def backward(upstream):
      per_element = scales if scales.shape.rank == 2 else scales[:, None]
      return upstream * per_element * logit_gradients

    return tf.reduce_sum(scales * losses), backward

  return forward(logits)
