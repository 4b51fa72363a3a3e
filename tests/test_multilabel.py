"""multilabel_ce: equals a numpy reference, masks missing labels, and is an
exact global mean on two replicas as on one."""

import numpy as np
import tensorflow as tf

from research import config
from research import losses
from tests import helpers


def _numpy_multilabel_ce(coarse_logits, fine_logits, coarse, fine, weights):
  """Weighted mean over examples with a label of log(1+sum_neg e^s) +
  log(1+sum_pos e^-s), in float64, one example at a time."""
  total, count = 0.0, 0.0
  num_coarse = coarse_logits.shape[1]
  for row in range(len(coarse)):
    joined = np.concatenate([coarse_logits[row], fine_logits[row]]).astype(
        np.float64)
    groups = []
    if coarse[row] >= 0:
      groups += [(i, i == coarse[row]) for i in range(num_coarse)]
    if fine[row] >= 0:
      groups += [(num_coarse + i, i == fine[row])
                 for i in range(fine_logits.shape[1])]
    if not groups:
      continue
    negatives = sum(np.exp(joined[i]) for i, positive in groups if not positive)
    positives = sum(np.exp(-joined[i]) for i, positive in groups if positive)
    total += weights[row] * (np.log1p(negatives) + np.log1p(positives))
    count += 1
  return total, count


def _multilabel_ce(num_coarse):
  return losses.build(config.LossConfig(loss="multilabel_ce"), "coarse",
                      np.ones(num_coarse, np.int64))


def test_multilabel_ce_equals_numpy_with_missing_labels_and_weights():
  rng = np.random.default_rng(0)
  coarse_logits = rng.normal(size=(6, 3)).astype(np.float32) * 4
  fine_logits = rng.normal(size=(6, 5)).astype(np.float32) * 4
  coarse = np.array([0, 2, -1, 1, -1, 2])
  fine = np.array([4, -1, 3, 0, -1, 2])
  weights = rng.random(6).astype(np.float32)
  loss = _multilabel_ce(num_coarse=3)
  assert loss.joint
  loss_sum, count = loss({"coarse": coarse, "fine": fine},
                         {"coarse": coarse_logits, "fine": fine_logits},
                         sample_weight=weights)
  expected_sum, expected_count = _numpy_multilabel_ce(
      coarse_logits, fine_logits, coarse, fine, weights)
  np.testing.assert_allclose(loss_sum, expected_sum, rtol=1e-5)
  assert float(count) == expected_count == 5


def test_multilabel_ce_is_stable_and_finite_for_large_logits():
  logits = {"coarse": tf.constant([[500.0, -500.0]]),
            "fine": tf.constant([[-500.0, 500.0, 0.0]])}
  labels = {"coarse": np.array([1]), "fine": np.array([0])}
  loss = _multilabel_ce(num_coarse=2)
  with tf.GradientTape() as tape:
    tape.watch(logits)
    loss_sum, _ = loss(labels, logits)
  gradients = tape.gradient(loss_sum, logits)
  # Two negatives and both positives sit at 500: 2 * (500 + log 2).
  np.testing.assert_allclose(loss_sum, 1000.0 + 2 * np.log(2.0), rtol=1e-6)
  assert all(np.isfinite(g).all() for g in gradients.values())


def test_model_reports_the_joint_loss_as_both_heads_loss():
  spec = helpers.tiny_spec(missing=True)
  model = helpers.tiny_model(spec, head="joint", loss="multilabel_ce")
  model.compile()
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  logits = model(features, training=False)
  expected_sum, expected_count = _numpy_multilabel_ce(
      np.asarray(logits["coarse"]), np.asarray(logits["fine"]),
      labels["coarse"], labels["fine"], np.ones(16))
  logs = model.test_on_batch(features, labels, return_dict=True)
  expected = expected_sum / expected_count
  for name in ("loss", "coarse/loss", "fine/loss"):
    np.testing.assert_allclose(logs[name], expected, rtol=1e-5, err_msg=name)


def test_joint_step_on_two_replicas_equals_one_replica(two_replicas):
  helpers.assert_replica_invariant(two_replicas, head="joint",
                                   loss="multilabel_ce", l2=1e-2)
