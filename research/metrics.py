"""Per-head and joint metrics that a compile-time loss cannot express.

Metrics are named `{head}/{metric}`. Mean-style metrics are `keras.metrics.Mean`
updated with a validity mask as their weight, so missing labels (-1) are left
out and the epoch value is the true mean over the examples seen on all
replicas (metric variables are summed across replicas on read). Prediction
metrics (accuracy, macro-F1, exact match, consistency) use the *decoded*
predictions (see `research.decoding`); top-k and the set metric use logits.
"""

import keras
import tensorflow as tf

HEADS = ("coarse", "fine")


class TwoHeadMetrics:
  """Owns the trackers; the model lists them in its `metrics` property."""

  def __init__(self, num_classes, top_k=3, set_accuracy=False):
    """Creates the trackers.

    Args:
      num_classes: {"coarse": int, "fine": int}, for the macro-F1 counts.
      top_k: k of the fine head's top-k accuracy.
      set_accuracy: also track `joint/set_accuracy` (for joint losses, whose
        joined logits share one scale).
    """
    self.top_k = top_k
    names = ["loss", "coarse/loss", "coarse/accuracy", "fine/loss",
             "fine/accuracy", f"fine/top{top_k}_accuracy", "joint/exact_match",
             "joint/consistency"]
    if set_accuracy:
      names.append("joint/set_accuracy")
    self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
    for head in HEADS:
      self.trackers[f"{head}/macro_f1"] = MacroF1(num_classes[head],
                                                  name=f"{head}/macro_f1")

  def update_losses(self, total_loss, head_losses, head_counts, batch_size):
    """Records global step values, weighted by how many examples made them."""
    self.trackers["loss"].update_state(total_loss, sample_weight=batch_size)
    for head in HEADS:
      self.trackers[f"{head}/loss"].update_state(
          head_losses[head], sample_weight=head_counts[head])

  def update_predictions(self, labels, logits, predictions, hierarchy_mask):
    """Records prediction metrics from this replica's batch.

    Args:
      labels: {"coarse", "fine"} [batch] int, -1 where missing.
      logits: {"coarse": [batch, num_coarse], "fine": [batch, num_fine]}.
      predictions: {"coarse", "fine"} [batch] int32, decoded from `logits`.
      hierarchy_mask: [num_coarse, num_fine] 0/1 allowed pairs.
    """
    correct, valid = {}, {}
    for head in HEADS:
      head_labels = flat_labels(labels[head])
      valid[head] = tf.cast(head_labels >= 0, tf.float32)
      correct[head] = tf.cast(predictions[head] == head_labels, tf.float32)
      self.trackers[f"{head}/accuracy"].update_state(correct[head], valid[head])
      self.trackers[f"{head}/macro_f1"].update_state(head_labels,
                                                     predictions[head])
    in_top_k = tf.math.in_top_k(
        targets=tf.maximum(flat_labels(labels["fine"]), 0),
        predictions=tf.cast(logits["fine"], tf.float32), k=self.top_k)
    self.trackers[f"fine/top{self.top_k}_accuracy"].update_state(
        tf.cast(in_top_k, tf.float32), valid["fine"])
    self.trackers["joint/exact_match"].update_state(
        correct["coarse"] * correct["fine"], valid["coarse"] * valid["fine"])
    pairs = tf.stack([predictions["coarse"], predictions["fine"]], axis=-1)
    self.trackers["joint/consistency"].update_state(
        tf.gather_nd(tf.cast(hierarchy_mask, tf.float32), pairs))
    if "joint/set_accuracy" in self.trackers:
      self.trackers["joint/set_accuracy"].update_state(
          top2_is_label_set(labels, logits),
          valid["coarse"] * valid["fine"])

  def results(self):
    return {name: tracker.result() for name, tracker in self.trackers.items()}


class MacroF1(keras.metrics.Metric):
  """Macro-F1 over the classes seen so far in the labels or the predictions.

  Per-class F1 = 2 TP / (2 TP + FP + FN), averaged over classes with any TP,
  FP or FN (scikit-learn's default label set); unlike Keras `F1Score`, classes
  absent from a small evaluation split do not count as F1 = 0. The counts are
  metric variables (summed across replicas on read), so the value is global.
  """

  def __init__(self, num_classes, name="macro_f1", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.counts = {kind: self.add_variable(shape=(num_classes,),
                                           initializer="zeros", name=kind)
                   for kind in ("true_positives", "false_positives",
                                "false_negatives")}

  def update_state(self, labels, predicted):
    """labels [batch] int (-1 = missing, skipped), predicted [batch] int."""
    labels = flat_labels(labels)
    valid = tf.cast(labels >= 0, tf.float32)[:, None]  # [batch, 1]
    truth = tf.one_hot(tf.maximum(labels, 0), self.num_classes) * valid
    guess = tf.one_hot(flat_labels(predicted), self.num_classes) * valid
    self.counts["true_positives"].assign_add(tf.reduce_sum(truth * guess, 0))
    self.counts["false_positives"].assign_add(
        tf.reduce_sum((1.0 - truth) * guess, 0))
    self.counts["false_negatives"].assign_add(
        tf.reduce_sum(truth * (1.0 - guess), 0))

  def result(self):
    tp, fp, fn = (tf.convert_to_tensor(self.counts[kind]) for kind in
                  ("true_positives", "false_positives", "false_negatives"))
    errors_and_hits = 2.0 * tp + fp + fn  # [num_classes]
    seen = tf.cast(errors_and_hits > 0, tf.float32)
    per_class = tf.math.divide_no_nan(2.0 * tp, errors_and_hits)
    return tf.math.divide_no_nan(tf.reduce_sum(per_class * seen),
                                 tf.reduce_sum(seen))


def top2_is_label_set(labels, logits):
  """[batch] 1.0 where the two highest joined logits are the two true labels.

  The joined vector is [coarse logits, fine logits]; its true set is
  {coarse, num_coarse + fine}.
  """
  num_coarse = tf.shape(logits["coarse"])[-1]
  joined = tf.concat([tf.cast(logits["coarse"], tf.float32),
                      tf.cast(logits["fine"], tf.float32)], axis=-1)
  top2 = tf.sort(tf.math.top_k(joined, k=2).indices, axis=-1)  # [batch, 2]
  truth = tf.stack([flat_labels(labels["coarse"]),
                    num_coarse + flat_labels(labels["fine"])], axis=-1)
  return tf.cast(tf.reduce_all(top2 == truth, axis=-1), tf.float32)


def flat_labels(labels):
  """[batch] int32 labels from any [batch] or [batch, 1] integer tensor."""
  return tf.cast(tf.reshape(labels, [-1]), tf.int32)
