"""Per-head and joint metrics that a compile-time loss cannot express.

Every metric is a `keras.metrics.Mean` named `{head}/{metric}` and updated with
a validity mask as its weight, so missing labels (-1) are left out and the
epoch value is the true mean over the examples seen on all replicas (metric
variables are summed across replicas on read).
"""

import keras
import tensorflow as tf

HEADS = ("coarse", "fine")


class TwoHeadMetrics:
  """Owns the trackers; the model lists them in its `metrics` property."""

  def __init__(self, top_k=3):
    self.top_k = top_k
    names = ["loss", "coarse/loss", "coarse/accuracy", "fine/loss",
             "fine/accuracy", f"fine/top{top_k}_accuracy", "joint/exact_match"]
    self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

  def update_losses(self, total_loss, head_losses, head_counts, batch_size):
    """Records global step values, weighted by how many examples made them."""
    self.trackers["loss"].update_state(total_loss, sample_weight=batch_size)
    for head in HEADS:
      self.trackers[f"{head}/loss"].update_state(
          head_losses[head], sample_weight=head_counts[head])

  def update_predictions(self, labels, logits):
    """Records accuracy-style metrics from this replica's batch."""
    correct, valid = {}, {}
    for head in HEADS:
      head_labels = flat_labels(labels[head])
      valid[head] = tf.cast(head_labels >= 0, tf.float32)
      predicted = tf.argmax(logits[head], axis=-1, output_type=tf.int32)
      correct[head] = tf.cast(predicted == head_labels, tf.float32)
      self.trackers[f"{head}/accuracy"].update_state(correct[head], valid[head])
    in_top_k = tf.math.in_top_k(
        targets=tf.maximum(flat_labels(labels["fine"]), 0),
        predictions=tf.cast(logits["fine"], tf.float32), k=self.top_k)
    self.trackers[f"fine/top{self.top_k}_accuracy"].update_state(
        tf.cast(in_top_k, tf.float32), valid["fine"])
    self.trackers["joint/exact_match"].update_state(
        correct["coarse"] * correct["fine"], valid["coarse"] * valid["fine"])

  def results(self):
    return {name: tracker.result() for name, tracker in self.trackers.items()}


def flat_labels(labels):
  """[batch] int32 labels from any [batch] or [batch, 1] integer tensor."""
  return tf.cast(tf.reshape(labels, [-1]), tf.int32)
