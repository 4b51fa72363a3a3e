"""Per-head and joint metrics that a compile-time loss cannot express.

Metrics are named `{head}/{metric}`. Mean-style metrics are weighted means
with a validity weight, so missing labels (-1) are left out and the epoch value
is the true mean over the examples seen on all replicas (metric variables are
summed across replicas on read, inside a step too, so per-batch logs are
global as well). A metric with no examples behind it (a head whose labels
are all missing, exact match without an example with both labels) is NaN,
undefined, as `research.evaluation` reports it; `loss` stays finite, a head
without labels adding 0 to it. Prediction metrics (accuracy, macro-F1, exact
match, consistency) use the *decoded* predictions (see `research.decoding`);
top-k and the set metric use logits.

All means live in one pair of vector variables and both heads' confusion
counts in one more, so a step adds three `assign_add`s whatever the number of
metrics (a Keras `Mean` per metric made the default mlp's step 3-4% slower).
The step's results leave the compiled function as one vector
(`research.step_logs`).
"""

import keras
import numpy as np
import tensorflow as tf

from research.distribute_utils import global_sum
from research.labels import HEADS
from research.labels import flat_labels

HEAD_LOSS_NAMES = ("coarse/loss", "fine/loss")
# `loss` is the sum of these means, so that over an epoch it equals
# w_coarse * coarse/loss + w_fine * fine/loss + mean regularization as logged,
# also when some labels are missing (each head's loss is a mean over its own
# labelled examples, whose counts differ from batch to batch). A head with no
# labelled example adds 0, while its logged loss is NaN.
OBJECTIVE_TERMS = ("coarse/weighted_loss", "fine/weighted_loss",
                   "regularization")


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
    self.example_names = ["coarse/accuracy", "fine/accuracy",
                          f"fine/top{top_k}_accuracy", "joint/exact_match",
                          "joint/consistency"]
    if set_accuracy:
      self.example_names.append("joint/set_accuracy")
    self.means = WeightedMeans(
        OBJECTIVE_TERMS + HEAD_LOSS_NAMES + tuple(self.example_names),
        sums={"loss": OBJECTIVE_TERMS}, name="means")
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
    loss_sums, loss_weights = self._loss_terms(objective)
    values, weights = self._per_example_terms(head_labels, logits, predictions,
                                              hierarchy_mask)
    self.means.update_state(
        tf.concat([loss_sums, tf.reduce_sum(values * weights, axis=1)], 0),
        tf.concat([loss_weights, tf.reduce_sum(weights, axis=1)], 0))
    self.macro_f1.update_state(head_labels, predictions)

  def _loss_terms(self, objective):
    """Weighted sums and weights of the global losses (OBJECTIVE_TERMS, then
    HEAD_LOSS_NAMES)."""
    counts = [objective.head_counts[head] for head in HEADS]
    sums = ([objective.weighted_head_losses[head] * count
             for head, count in zip(HEADS, counts)] +
            [objective.regularization * objective.batch_size] +
            [objective.head_losses[head] * count
             for head, count in zip(HEADS, counts)])
    return tf.stack(sums), tf.stack(counts + [objective.batch_size] + counts)

  def _per_example_terms(self, head_labels, logits, predictions,
                         hierarchy_mask):
    """[n, batch] values and weights of the `example_names` means on this
    replica's examples."""
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
    terms = {
        "coarse/accuracy": (correct["coarse"], valid["coarse"]),
        "fine/accuracy": (correct["fine"], valid["fine"]),
        f"fine/top{self.top_k}_accuracy": (in_top_k, valid["fine"]),
        "joint/exact_match": (correct["coarse"] * correct["fine"],
                              both_valid),
        "joint/consistency": (consistent, tf.ones_like(consistent))}
    if self.set_accuracy:
      terms["joint/set_accuracy"] = (top2_is_label_set(head_labels, logits),
                                     both_valid)
    return (tf.stack([terms[name][0] for name in self.example_names]),
            tf.stack([terms[name][1] for name in self.example_names]))

  @property
  def result_names(self):
    """The keys of `results()`, in order."""
    return self.means.result_names + tuple(self.macro_f1.num_classes)

  def results(self):
    return {**self.means.result(), **self.macro_f1.result()}


class WeightedMeans(keras.metrics.Metric):
  """Several weighted means kept in two vector variables.

  `update_state(sums, weights)` adds [len(names)] vectors of weighted sums and
  weights; `result()` is {name: total sum / total weight}, NaN for a weight
  of 0, except that the means listed in `sums` are reported only as their
  sum, in which a mean of weight 0 counts as 0.
  """

  def __init__(self, names, sums=None, name="means", **kwargs):
    """names: the means, in update order; sums: {result name: names of the
    means it adds up}."""
    super().__init__(name=name, **kwargs)
    self.names = tuple(names)
    self.sums_of_means = dict(sums or {})
    summed = {part for parts in self.sums_of_means.values() for part in parts}
    self.result_names = tuple(self.sums_of_means) + tuple(
        n for n in self.names if n not in summed)
    self.sums = self.add_variable(shape=(len(self.names),),
                                  initializer="zeros", name="sums")
    self.weight_sums = self.add_variable(shape=(len(self.names),),
                                         initializer="zeros",
                                         name="weight_sums")

  def update_state(self, sums, weights):
    self.sums.assign_add(tf.cast(sums, self.sums.dtype))
    self.weight_sums.assign_add(tf.cast(weights, self.weight_sums.dtype))

  def result(self):
    sums = global_value(self.sums)
    weights = global_value(self.weight_sums)
    # A part of a sum with no weight adds 0 (a head with no labels adds
    # nothing to the objective); a reported mean over nothing is undefined.
    parts = dict(zip(self.names, tf.unstack(tf.math.divide_no_nan(sums,
                                                                  weights))))
    means = dict(zip(self.names, tf.unstack(undefined_where_empty(
        sums / weights, weights))))
    for name, summed in self.sums_of_means.items():
      means[name] = tf.add_n([parts[part] for part in summed])
    return {name: means[name] for name in self.result_names}


class MacroF1(keras.metrics.Metric):
  """Macro-F1 of one or more classifiers over the classes seen so far.

  Per-class F1 = 2 TP / (2 TP + FP + FN), averaged over classes with any TP,
  FP or FN (scikit-learn's default label set); unlike Keras `F1Score`, classes
  absent from a small evaluation split do not count as F1 = 0; with no class
  seen (no labelled example) it is NaN, undefined. The counts are
  confusion matrices, all classifiers' flattened into one metric variable
  (summed across replicas on read), so the value is global and a step adds
  one segment sum.
  """

  def __init__(self, num_classes, name="macro_f1", **kwargs):
    """num_classes: {result name: classes of that classifier}."""
    super().__init__(name=name, **kwargs)
    self.num_classes = dict(num_classes)
    sizes = list(self.num_classes.values())
    cells = [classes * classes for classes in sizes]
    self.offsets = np.cumsum([0] + cells)[:-1].tolist()  # first cell of each
    self.confusion = self.add_variable(
        shape=(sum(cells),), initializer="zeros", name="confusion")

  def update_state(self, labels, predicted):
    """labels, predicted: lists or dicts (in `num_classes` order) of [batch]
    ints; labels of -1 are missing and skipped."""
    if isinstance(labels, dict):
      labels, predicted = list(labels.values()), list(predicted.values())
    cells = []
    for head_labels, head_predicted, classes, offset in zip(
        labels, predicted, self.num_classes.values(), self.offsets):
      cell = (tf.cast(head_labels, tf.int32) * classes +
              tf.cast(head_predicted, tf.int32))  # row-major [label, predicted]
      # Negative exactly where the label is -1; segment sums drop those.
      cells.append(tf.where(cell >= 0, cell + offset, -1))
    cells = tf.concat(cells, axis=0)
    self.confusion.assign_add(tf.math.unsorted_segment_sum(
        tf.ones_like(cells, self.confusion.dtype), cells,
        self.confusion.shape[0]))

  def result(self):
    confusion = global_value(self.confusion)
    results = {}
    for (name, classes), offset in zip(self.num_classes.items(), self.offsets):
      matrix = tf.reshape(confusion[offset:offset + classes * classes],
                          [classes, classes])  # [label, predicted]
      hits = tf.linalg.diag_part(matrix)
      # Row sums are TP + FN, column sums TP + FP.
      errors_and_hits = tf.reduce_sum(matrix, 0) + tf.reduce_sum(matrix, 1)
      seen = tf.cast(errors_and_hits > 0, errors_and_hits.dtype)
      per_class = tf.math.divide_no_nan(2.0 * hits, errors_and_hits)
      classes_seen = tf.reduce_sum(seen)
      results[name] = undefined_where_empty(
          tf.reduce_sum(per_class * seen) / classes_seen, classes_seen)
    return results


def undefined_where_empty(means, weights):
  """`means` with NaN where `weights` is 0: a mean over no examples is
  undefined, as in `research.evaluation`, not 0."""
  return tf.where(weights > 0, means, tf.constant(np.nan, means.dtype))


def global_value(variable):
  """The metric variable summed over replicas, wherever it is read.

  Reading it in cross-replica context (Keras' epoch-end results) sums already;
  inside a step each replica reads its own share, which would make the step's
  (per-batch) logs a mean of per-replica results. `tf.identity` gives the read
  the replica's device: a bare read has none (it is colocated with the
  variable), and the multi-worker all-reduce refuses it ("destinations can not
  be empty").
  """
  return global_sum(tf.identity(variable))


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
