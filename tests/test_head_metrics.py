"""Accuracy, top-3, exact match, macro-F1, consistency and the set metric
against numpy, also on two replicas (metric variables are summed across
replicas on read)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from research import evaluation
from research import metrics
from research import model as model_lib
from research.data import hierarchy
from research.data import spec as spec_lib
from tests import helpers


def _numpy_macro_f1(labels, predicted, num_classes):
  """Mean over classes present in labels or predictions of 2TP/(2TP+FP+FN)."""
  keep = labels >= 0
  labels, predicted = labels[keep], predicted[keep]
  scores = []
  for k in range(num_classes):
    tp = np.sum((labels == k) & (predicted == k))
    fp = np.sum((labels != k) & (predicted == k))
    fn = np.sum((labels == k) & (predicted != k))
    if tp + fp + fn:
      scores.append(2 * tp / (2 * tp + fp + fn))
  return np.mean(scores) if scores else np.nan


def _numpy_set_accuracy(labels, coarse_logits, fine_logits):
  joined = np.concatenate([coarse_logits, fine_logits], axis=1)
  num_coarse = coarse_logits.shape[1]
  hits = []
  for row in range(len(joined)):
    if labels["coarse"][row] < 0 or labels["fine"][row] < 0:
      continue
    top2 = set(np.argsort(-joined[row])[:2])
    hits.append(top2 == {labels["coarse"][row],
                         num_coarse + labels["fine"][row]})
  return np.mean(hits)


def test_macro_f1_equals_numpy_over_several_updates():
  rng = np.random.default_rng(0)
  labels = rng.integers(-1, 6, 40)
  predicted = rng.integers(0, 6, 40)
  predicted[:10] = np.where(labels[:10] >= 0, labels[:10], 0)
  tracker = metrics.MacroF1({"f1": 8})  # classes 6, 7 never seen
  tracker.update_state([labels[:25]], [predicted[:25]])
  tracker.update_state([labels[25:]], [predicted[25:]])
  np.testing.assert_allclose(tracker.result()["f1"],
                             _numpy_macro_f1(labels, predicted, 8), rtol=1e-6)
  tracker.reset_state()
  assert np.isnan(tracker.result()["f1"])  # no class seen: undefined


def test_macro_f1_skips_missing_labels_under_xla():
  rng = np.random.default_rng(4)
  labels = rng.integers(-1, 5, 40)
  predicted = rng.integers(0, 5, 40)
  tracker = metrics.MacroF1({"f1": 5})
  tf.function(tracker.update_state, jit_compile=True)([labels], [predicted])
  np.testing.assert_allclose(tracker.result()["f1"],
                             _numpy_macro_f1(labels, predicted, 5), rtol=1e-6)


def test_macro_f1_keeps_classifiers_apart():
  rng = np.random.default_rng(3)
  labels = {"a": rng.integers(-1, 3, 30), "b": rng.integers(-1, 5, 30)}
  predicted = {"a": rng.integers(0, 3, 30), "b": rng.integers(0, 5, 30)}
  tracker = metrics.MacroF1({"a": 3, "b": 5})
  tracker.update_state(labels, predicted)
  results = tracker.result()
  for name, classes in (("a", 3), ("b", 5)):
    np.testing.assert_allclose(
        results[name], _numpy_macro_f1(labels[name], predicted[name], classes),
        rtol=1e-6)


def test_set_accuracy_equals_numpy():
  rng = np.random.default_rng(1)
  coarse_logits = rng.normal(size=(30, 3)).astype(np.float32)
  fine_logits = rng.normal(size=(30, 4)).astype(np.float32)
  labels = {"coarse": rng.integers(-1, 3, 30), "fine": rng.integers(-1, 4, 30)}
  # Make a third of the rows right by lifting their two true logits.
  rows = np.arange(10)
  coarse_logits[rows, np.maximum(labels["coarse"][rows], 0)] += 5
  fine_logits[rows, np.maximum(labels["fine"][rows], 0)] += 5
  hits = metrics.top2_is_label_set(
      labels, {"coarse": coarse_logits, "fine": fine_logits})
  valid = (labels["coarse"] >= 0) & (labels["fine"] >= 0)
  np.testing.assert_allclose(
      np.mean(np.asarray(hits)[valid]),
      _numpy_set_accuracy(labels, coarse_logits, fine_logits))


def test_step_metrics_of_hand_made_predictions():
  labels = {"coarse": np.array([0, 1, 1, -1, 0]),
            "fine": np.array([2, 0, -1, 1, 1])}
  predicted = {"coarse": np.array([0, 0, 1, 1, 1], np.int32),
               "fine": np.array([2, 0, 0, 1, 1], np.int32)}
  logits = {"coarse": np.zeros((5, 2), np.float32),
            "fine": np.array([[0.1, 0.5, 0.9], [0.2, 0.1, 0.3], [0, 0, 0],
                              [0.9, 0.8, 0.1], [0.9, 0.1, 0.5]], np.float32)}
  mask = np.array([[1, 0, 1], [0, 1, 0]])
  zero = {head: tf.constant(0.0) for head in ("coarse", "fine")}
  objective = model_lib.Objective(tf.constant(0.0), zero, zero,
                                  tf.constant(0.0), zero, tf.constant(5.0))
  tracker = metrics.TwoHeadMetrics({"coarse": 2, "fine": 3}, top_k=2)
  tracker.update(objective, labels, logits, predicted, mask)
  results = {name: float(value) for name, value in tracker.results().items()}
  # By hand: coarse right on rows 0, 2 of the labelled 0, 1, 2, 4; fine right
  # on all of 0, 1, 3, 4; both right only on row 0 of the fully labelled 0,
  # 1, 4; the true fine class is in the top 2 on rows 0, 1, 3, not 4; the
  # predicted pair (1, 0) of row 2 is not allowed.
  assert results["coarse/accuracy"] == pytest.approx(2 / 4)
  assert results["fine/accuracy"] == pytest.approx(1.0)
  assert results["joint/exact_match"] == pytest.approx(1 / 3)
  assert results["fine/top2_accuracy"] == pytest.approx(3 / 4)
  assert results["joint/consistency"] == pytest.approx(4 / 5)


def test_metrics_on_two_replicas_equal_numpy(two_replicas):
  spec = helpers.tiny_spec(size=21, missing=True)
  with two_replicas.scope():
    keras.utils.set_random_seed(2)
    model = helpers.tiny_model(spec, head="joint", loss="multilabel_ce")
    model.compile()
  logs = model.evaluate(spec.splits["test"].examples.batch(8),  # 8+8+5
                        return_dict=True, verbose=0)
  features, labels = helpers.first_batch(spec.splits["test"], 21)
  logits = {k: np.asarray(v) for k, v in
            model(features, training=False).items()}
  predicted = {k: np.argmax(v, axis=1) for k, v in logits.items()}
  for head, num_classes in (("coarse", helpers.NUM_COARSE),
                            ("fine", helpers.NUM_FINE)):
    np.testing.assert_allclose(
        logs[f"{head}/macro_f1"],
        _numpy_macro_f1(labels[head], predicted[head], num_classes),
        rtol=1e-5, err_msg=head)
  both = (labels["coarse"] >= 0) & (labels["fine"] >= 0)
  right = {head: predicted[head] == labels[head] for head in predicted}
  for head in ("coarse", "fine"):  # means over labelled examples only
    valid = labels[head] >= 0
    np.testing.assert_allclose(logs[f"{head}/accuracy"],
                               np.mean(right[head][valid]), rtol=1e-6)
  valid = labels["fine"] >= 0
  top3 = np.argsort(-logits["fine"], axis=1)[:, :3]
  np.testing.assert_allclose(
      logs["fine/top3_accuracy"],
      np.mean([labels["fine"][i] in top3[i] for i in np.flatnonzero(valid)]),
      rtol=1e-6)
  np.testing.assert_allclose(logs["joint/exact_match"],
                             np.mean((right["coarse"] & right["fine"])[both]),
                             rtol=1e-6)
  mask = hierarchy.counted(spec).mask
  np.testing.assert_allclose(
      logs["joint/consistency"],
      np.mean(mask[predicted["coarse"], predicted["fine"]]), rtol=1e-6)
  np.testing.assert_allclose(
      logs["joint/set_accuracy"],
      _numpy_set_accuracy(labels, logits["coarse"], logits["fine"]), rtol=1e-6)


def test_a_fresh_tracker_reports_undefined_means_and_a_zero_objective():
  tracker = metrics.TwoHeadMetrics({"coarse": 2, "fine": 3})
  results = {name: float(value) for name, value in tracker.results().items()}
  assert results.pop("loss") == 0.0  # the sum of no terms
  assert all(np.isnan(value) for value in results.values()), results


def _logs_and_report(spec, labels, **model_kw):
  """Epoch logs of `model.evaluate` on the first 16 test features with
  `labels`, and `evaluation.split_report` of the same predictions."""
  features, _ = helpers.first_batch(spec.splits["test"], 16)
  split = spec_lib.split_from_arrays(features, labels["coarse"],
                                     labels["fine"])
  keras.utils.set_random_seed(1)
  model = helpers.tiny_model(spec, **model_kw)
  model.compile()
  logs = model.evaluate(split.examples.batch(6), return_dict=True, verbose=0)
  probabilities = {head: evaluation.softmax(np.asarray(logits, np.float64))
                   for head, logits in model(features).items()}
  return logs, evaluation.split_report(labels, probabilities, spec, model)


def _assert_logs_match_report(logs, report, names):
  """Each `{head}/{metric}` of `names` equals the report's, NaN for NaN."""
  for name in names:
    head, metric = name.split("/")
    np.testing.assert_allclose(logs[name], report[head][metric], rtol=1e-5,
                               err_msg=name)


@pytest.mark.parametrize("head", ["coarse", "fine"])
def test_a_head_without_labels_has_undefined_metrics_as_evaluate_reports(
    head):
  spec = helpers.tiny_spec(size=16)
  _, labels = helpers.first_batch(spec.splits["test"], 16)
  labels[head] = np.full(16, -1, np.int64)
  logs, report = _logs_and_report(spec, labels, loss_weights=(0.3, 2.0))
  undefined = [f"{head}/accuracy", f"{head}/macro_f1", "joint/exact_match"]
  if head == "fine":
    undefined.append("fine/top3_accuracy")
  assert all(np.isnan(logs[name]) for name in undefined + [f"{head}/loss"])
  _assert_logs_match_report(
      logs, report, undefined + ["coarse/accuracy", "coarse/macro_f1",
                                 "fine/accuracy", "fine/macro_f1",
                                 "fine/top3_accuracy", "joint/consistency"])
  # The head without labels adds nothing to the objective.
  other, weight = ("fine", 2.0) if head == "coarse" else ("coarse", 0.3)
  np.testing.assert_allclose(logs["loss"], weight * logs[f"{other}/loss"],
                             rtol=1e-6)


def test_exact_match_without_a_fully_labelled_example_is_undefined():
  spec = helpers.tiny_spec(size=16)
  _, labels = helpers.first_batch(spec.splits["test"], 16)
  even = np.arange(16) % 2 == 0  # coarse labels on even rows, fine on odd
  labels = {"coarse": np.where(even, labels["coarse"], -1),
            "fine": np.where(even, -1, labels["fine"])}
  logs, report = _logs_and_report(spec, labels, head="joint",
                                  loss="multilabel_ce")
  assert np.isnan(logs["joint/exact_match"])
  assert np.isnan(logs["joint/set_accuracy"])
  assert np.isfinite(logs["loss"]) and np.isfinite(logs["coarse/accuracy"])
  _assert_logs_match_report(
      logs, report, ["joint/exact_match", "joint/consistency",
                     "coarse/accuracy", "fine/accuracy", "coarse/macro_f1",
                     "fine/macro_f1"])
