"""TwoHeadModel: its train_step is the one used, its loss is right, and it
does not depend on the number of replicas."""

import keras
import numpy as np
import tensorflow as tf

from tests import helpers


def _sgd_model(spec, strategy=None, **kw):
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    keras.utils.set_random_seed(1)
    model = helpers.tiny_model(spec, **kw)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
  return model


def test_fit_logs_metrics_only_the_custom_step_computes():
  spec = helpers.tiny_spec()
  model = _sgd_model(spec)
  history = model.fit(spec.splits["train"].examples.batch(8), epochs=1,
                      verbose=0)
  assert {"coarse/loss", "fine/top3_accuracy",
          "joint/exact_match"} <= set(history.history)


def test_reported_loss_equals_numpy_on_a_fixed_batch():
  spec = helpers.tiny_spec(missing=True)
  model = _sgd_model(spec, loss_weights=(0.3, 2.0), l2=1e-2)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  logits = model(features, training=False)
  kernels = [w.numpy() for w in model.trainable_weights if "kernel" in w.path]
  expected_coarse = helpers.numpy_ce(logits["coarse"], labels["coarse"])
  expected_fine = helpers.numpy_ce(logits["fine"], labels["fine"])
  expected_l2 = 1e-2 * sum(float((k.astype(np.float64) ** 2).sum())
                           for k in kernels)
  logs = model.test_on_batch(features, labels, return_dict=True)
  np.testing.assert_allclose(logs["coarse/loss"], expected_coarse, rtol=1e-5)
  np.testing.assert_allclose(logs["fine/loss"], expected_fine, rtol=1e-5)
  np.testing.assert_allclose(
      logs["loss"], 0.3 * expected_coarse + 2.0 * expected_fine + expected_l2,
      rtol=1e-5)


def test_epoch_metrics_are_true_means_over_uneven_batches():
  spec = helpers.tiny_spec(size=10)
  model = _sgd_model(spec)
  features, labels = helpers.first_batch(spec.splits["test"], 10)
  logits = model(features, training=False)
  accuracy = np.mean(np.argmax(logits["fine"], axis=1) == labels["fine"])
  expected_loss = helpers.numpy_ce(logits["fine"], labels["fine"])
  logs = model.evaluate(spec.splits["test"].examples.batch(4),
                        return_dict=True, verbose=0)
  np.testing.assert_allclose(logs["fine/accuracy"], accuracy, rtol=1e-6)
  np.testing.assert_allclose(logs["fine/loss"], expected_loss, rtol=1e-5)


def test_one_step_on_two_replicas_equals_one_replica(two_replicas):
  helpers.assert_replica_invariant(two_replicas, l2=1e-2)
