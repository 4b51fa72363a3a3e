"""Per-head and joint metrics that a compile-time loss cannot express.

Metrics are named `{head}/{metric}`. Mean-style metrics are weighted means
with a validity weight, so missing labels (-1) are left out and the epoch value
is the true mean over the examples seen on all replicas (metric variables are
summed across replicas on read). Prediction metrics (accuracy, macro-F1, exact
match, consistency) use the *decoded* predictions (see `research.decoding`);
top-k and the set metric use logits.

All means live in one pair of vector variables and both heads' F1 counts in
one matrix, so a step adds three `assign_add`s whatever the number of metrics:
with one Keras `Mean` per metric the bookkeeping alone made our step 7% slower
than a compile-time-loss model on the default mlp (experiments/bench.py).
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
    self.set_accuracy = set_accuracy
    names = ["loss", "coarse/loss", "coarse/accuracy", "fine/loss",
             "fine/accuracy", f"fine/top{top_k}_accuracy", "joint/exact_match",
             "joint/consistency"]
    if set_accuracy:
      names.append("joint/set_accuracy")
    self.means = WeightedMeans(names, name="means")
    self.macro_f1 = MacroF1({f"{head}/macro_f1": num_classes[head]
                             for head in HEADS}, name="macro_f1")
    self.trackers = (self.means, self.macro_f1)

  def update(self, objective, labels, logits, predictions, hierarchy_mask):
    """Records one step: global losses and this replica's predictions.

    Args:
      objective: model.Objective (global loss values, counts, batch size).
      labels: {"coarse", "fine"} [batch] int, -1 where missing.
      logits: {"coarse": [batch, num_coarse], "fine": [batch, num_fine]}.
      predictions: {"coarse", "fine"} [batch] int32, decoded from `logits`.
      hierarchy_mask: [num_coarse, num_fine] 0/1 allowed pairs.
    """
    head_labels = {head: flat_labels(labels[head]) for head in HEADS}
    terms = {**self._loss_terms(objective),
             **self._prediction_terms(head_labels, logits, predictions,
                                      hierarchy_mask)}
    self.means.update_state(
        tf.stack([terms[name][0] for name in self.means.names]),
        tf.stack([terms[name][1] for name in self.means.names]))
    self.macro_f1.update_state(head_labels, predictions)

  def _loss_terms(self, objective):
    """{name: (weighted sum, weight)} of the global loss values."""
    terms = {"loss": (objective.total * objective.batch_size,
                      objective.batch_size)}
    for head in HEADS:
      count = objective.head_counts[head]
      terms[f"{head}/loss"] = (objective.head_losses[head] * count, count)
    return terms

  def _prediction_terms(self, head_labels, logits, predictions,
                        hierarchy_mask):
    """{name: (weighted sum, weight)} over this replica's examples."""
    correct, valid = {}, {}
    for head in HEADS:
      valid[head] = tf.cast(head_labels[head] >= 0, tf.float32)
      correct[head] = tf.cast(predictions[head] == head_labels[head],
                              tf.float32)
    in_top_k = tf.cast(tf.math.in_top_k(
        targets=tf.maximum(head_labels["fine"], 0),
        predictions=tf.cast(logits["fine"], tf.float32), k=self.top_k),
                       tf.float32)
    both_valid = valid["coarse"] * valid["fine"]
    pairs = tf.stack([predictions["coarse"], predictions["fine"]], axis=-1)
    consistent = tf.gather_nd(tf.cast(hierarchy_mask, tf.float32), pairs)
    per_example = {
        "coarse/accuracy": (correct["coarse"], valid["coarse"]),
        "fine/accuracy": (correct["fine"], valid["fine"]),
        f"fine/top{self.top_k}_accuracy": (in_top_k, valid["fine"]),
        "joint/exact_match": (correct["coarse"] * correct["fine"],
                              both_valid),
        "joint/consistency": (consistent, tf.ones_like(consistent))}
    if self.set_accuracy:
      per_example["joint/set_accuracy"] = (
          top2_is_label_set(head_labels, logits), both_valid)
    names = list(per_example)
    values = tf.stack([per_example[name][0] for name in names])  # [n, batch]
    weights = tf.stack([per_example[name][1] for name in names])
    sums = tf.unstack(tf.reduce_sum(values * weights, axis=1))
    weight_sums = tf.unstack(tf.reduce_sum(weights, axis=1))
    return {name: (sums[i], weight_sums[i]) for i, name in enumerate(names)}

  def results(self):
    return {**self.means.result(), **self.macro_f1.result()}


class WeightedMeans(keras.metrics.Metric):
  """Several weighted means kept in two vector variables.

  `update_state(sums, weights)` adds [len(names)] vectors of weighted sums and
  weights; `result()` is {name: total sum / total weight}.
  """

  def __init__(self, names, name="means", **kwargs):
    super().__init__(name=name, **kwargs)
    self.names = tuple(names)
    self.sums = self.add_variable(shape=(len(self.names),),
                                  initializer="zeros", name="sums")
    self.weight_sums = self.add_variable(shape=(len(self.names),),
                                         initializer="zeros",
                                         name="weight_sums")

  def update_state(self, sums, weights):
    self.sums.assign_add(tf.cast(sums, self.sums.dtype))
    self.weight_sums.assign_add(tf.cast(weights, self.weight_sums.dtype))

  def result(self):
    means = tf.math.divide_no_nan(tf.convert_to_tensor(self.sums),
                                  tf.convert_to_tensor(self.weight_sums))
    return {name: means[index] for index, name in enumerate(self.names)}


class MacroF1(keras.metrics.Metric):
  """Macro-F1 of one or more classifiers over the classes seen so far.

  Per-class F1 = 2 TP / (2 TP + FP + FN), averaged over classes with any TP,
  FP or FN (scikit-learn's default label set); unlike Keras `F1Score`, classes
  absent from a small evaluation split do not count as F1 = 0. The counts of
  all classifiers are one [3, total classes] metric variable (summed across
  replicas on read), so the value is global and a step is one `assign_add`.
  """

  def __init__(self, num_classes, name="macro_f1", **kwargs):
    """num_classes: {result name: classes of that classifier}."""
    super().__init__(name=name, **kwargs)
    self.num_classes = dict(num_classes)
    self.counts = self.add_variable(
        shape=(3, sum(self.num_classes.values())), initializer="zeros",
        name="tp_fp_fn")

  def update_state(self, labels, predicted):
    """labels, predicted: lists or dicts (in `num_classes` order) of [batch]
    ints; labels of -1 are missing and skipped."""
    if isinstance(labels, dict):
      labels, predicted = list(labels.values()), list(predicted.values())
    truth, guess = [], []
    for head_labels, head_predicted, classes in zip(
        labels, predicted, self.num_classes.values()):
      head_labels = flat_labels(head_labels)
      valid = tf.cast(head_labels >= 0, tf.float32)[:, None]  # [batch, 1]
      truth.append(tf.one_hot(tf.maximum(head_labels, 0), classes) * valid)
      guess.append(tf.one_hot(flat_labels(head_predicted), classes) * valid)
    truth, guess = tf.concat(truth, axis=1), tf.concat(guess, axis=1)
    hits = tf.reduce_sum(truth * guess, 0)
    self.counts.assign_add(tf.stack([hits, tf.reduce_sum(guess, 0) - hits,
                                     tf.reduce_sum(truth, 0) - hits]))

  def result(self):
    tp, fp, fn = tf.unstack(tf.convert_to_tensor(self.counts))
    errors_and_hits = 2.0 * tp + fp + fn  # [total classes]
    seen = tf.cast(errors_and_hits > 0, tf.float32)
    per_class = tf.math.divide_no_nan(2.0 * tp, errors_and_hits)
    results, start = {}, 0
    for name, classes in self.num_classes.items():
      head = slice(start, start + classes)
      results[name] = tf.math.divide_no_nan(
          tf.reduce_sum(per_class[head] * seen[head]),
          tf.reduce_sum(seen[head]))
      start += classes
    return results


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
