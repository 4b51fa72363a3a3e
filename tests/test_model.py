"""TwoHeadModel: its train_step is the one used, its loss is right, and it
does not depend on the number of replicas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from research import dropout as dropout_lib
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


class _BatchLogs(keras.callbacks.Callback):
  """The logs Keras passes to callbacks after each train and test batch."""

  def __init__(self):
    super().__init__()
    self.train, self.test = [], []

  def on_train_batch_end(self, batch, logs=None):
    self.train.append(dict(logs))

  def on_test_batch_end(self, batch, logs=None):
    self.test.append(dict(logs))


@pytest.mark.parametrize("replicated, steps_per_execution",
                         [(False, 1), (False, 3), (True, 1)])
def test_batch_logs_name_each_metric_as_the_epoch_logs_do(
    two_replicas, replicated, steps_per_execution):
  # The step ships its logs as one vector; unpacked in the wrong order, the
  # last batch's logs would differ from the epoch's (read from the metrics).
  spec = helpers.tiny_spec(size=16, missing=True)
  strategy = two_replicas if replicated else tf.distribute.get_strategy()
  with strategy.scope():
    keras.utils.set_random_seed(1)
    model = helpers.tiny_model(spec)
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  steps_per_execution=steps_per_execution)
  batch_logs = _BatchLogs()
  history = model.fit(spec.splits["train"].examples.batch(4), epochs=1,
                      callbacks=[batch_logs], verbose=0)
  evaluated = model.evaluate(spec.splits["test"].examples.batch(4),
                             callbacks=[batch_logs], return_dict=True,
                             verbose=0)
  epoch = {name: values[0] for name, values in history.history.items()}
  assert set(epoch) == set(model.two_head_metrics.result_names)
  assert len(set(epoch.values())) > len(epoch) // 2  # values tell names apart
  for final, expected in ((batch_logs.train[-1], epoch),
                          (batch_logs.test[-1], evaluated)):
    assert set(final) == set(expected)
    for name, value in expected.items():
      np.testing.assert_allclose(final[name], value, rtol=1e-6, err_msg=name)


def _numpy_losses(model, features, labels, l2):
  """{"coarse/loss", "fine/loss", "l2"} of `model` on the examples, in numpy."""
  logits = model(features, training=False)
  kernels = [w.numpy() for w in model.trainable_weights if "kernel" in w.path]
  return {"coarse/loss": helpers.numpy_ce(logits["coarse"], labels["coarse"]),
          "fine/loss": helpers.numpy_ce(logits["fine"], labels["fine"]),
          "l2": l2 * sum(float((k.astype(np.float64) ** 2).sum())
                         for k in kernels)}


def _assert_weighted_total(logs, expected, loss_weights):
  for name in ("coarse/loss", "fine/loss"):
    np.testing.assert_allclose(logs[name], expected[name], rtol=1e-5)
  np.testing.assert_allclose(
      logs["loss"], loss_weights[0] * expected["coarse/loss"] +
      loss_weights[1] * expected["fine/loss"] + expected["l2"], rtol=1e-5)


@pytest.mark.parametrize("head", ["independent", "conditioned"])
def test_reported_loss_equals_numpy_on_a_fixed_batch(head):
  # --l2 decays every kernel, the conditioned head's coarse embedding too.
  spec = helpers.tiny_spec(missing=True)
  model = _sgd_model(spec, loss_weights=(0.3, 2.0), l2=1e-2, head=head)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  expected = _numpy_losses(model, features, labels, l2=1e-2)
  logs = model.test_on_batch(features, labels, return_dict=True)
  _assert_weighted_total(logs, expected, (0.3, 2.0))


def test_epoch_loss_is_the_weighted_total_of_the_epoch_head_losses():
  # Batches 6, 6, 4 with labels missing at random: each batch's head losses
  # are means over differing counts, so averaging per-batch totals by batch
  # size would not give w_c * coarse/loss + w_f * fine/loss + l2.
  spec = helpers.tiny_spec(missing=True)
  model = _sgd_model(spec, loss_weights=(0.3, 2.0), l2=1e-2)
  features, labels = helpers.first_batch(spec.splits["test"], 16)
  expected = _numpy_losses(model, features, labels, l2=1e-2)
  logs = model.evaluate(spec.splits["test"].examples.batch(6),
                        return_dict=True, verbose=0)
  _assert_weighted_total(logs, expected, (0.3, 2.0))


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


def test_dropout_drops_its_rate_and_rescales_what_it_keeps():
  # Inverted dropout: zero with probability rate, else x / (1 - rate).
  layer = dropout_lib.GlobalBatchDropout(0.25, seed=3)
  out = np.asarray(layer(np.ones((400, 50), np.float32), training=True))
  kept = out != 0
  np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
  assert abs(1 - kept.mean() - 0.25) < 0.01  # 20000 draws: std 0.003
  np.testing.assert_array_equal(layer(np.ones((4, 3)), training=False), 1.0)


def test_dropout_masks_follow_the_example_not_the_replica(two_replicas):
  # Keras' Dropout gave every replica the same mask for its k-th example.
  helpers.assert_replica_invariant(two_replicas, dropout=0.5)


def _one_step_changes(spec, features, labels, **kw):
  """[(weight path, before, after - before)] over one SGD(0.5) step, in the
  model's order of trainable weights (paths differ between models)."""
  model = _sgd_model(spec, **kw)
  before = [w.numpy() for w in model.trainable_weights]
  model.train_on_batch(features, labels)
  return [(w.path, start, w.numpy() - start)
          for w, start in zip(model.trainable_weights, before)]


def test_head_loss_weights_scale_each_head_s_gradient():
  # Same start, same batch: w * L_head scales the step of that head's logit
  # layer by w (SGD without momentum), whatever the logged loss says.
  spec = helpers.tiny_spec(missing=True)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  unit = _one_step_changes(spec, features, labels)
  weighted = _one_step_changes(spec, features, labels,
                               loss_weights=(0.3, 2.0))
  checked = 0
  for (path, _, step), (_, _, weighted_step) in zip(unit, weighted):
    for head, weight in (("coarse_logits", 0.3), ("fine_logits", 2.0)):
      if head in path:
        np.testing.assert_allclose(weighted_step, weight * step,
                                   rtol=1e-5, atol=1e-7, err_msg=path)
        checked += 1
  assert checked == 4  # kernel and bias of both heads


def test_regularization_enters_the_step_as_its_gradient():
  # d/dW (l2 * sum W^2) = 2 l2 W: the step with l2 differs from the step
  # without by -lr * 2 * l2 * W on every regularized kernel, and not elsewhere.
  spec = helpers.tiny_spec(missing=True)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  plain = _one_step_changes(spec, features, labels)
  regularized = _one_step_changes(spec, features, labels, l2=1e-2)
  for (path, start, step), (_, _, plain_step) in zip(regularized, plain):
    expected = -0.5 * 2 * 1e-2 * start if "kernel" in path else 0.0
    np.testing.assert_allclose(step - plain_step, expected, atol=1e-6,
                               err_msg=path)


def test_train_step_teacher_forces_the_conditioned_head():
  # The logged fine loss of a train step is that of the logits computed
  # with the true coarse labels (where present), not the predicted ones.
  spec = helpers.tiny_spec(missing=True)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  model = _sgd_model(spec, head="conditioned")
  forced = model(features, training=True, coarse_teacher=labels["coarse"])
  predicted = model(features, training=True)
  expected = helpers.numpy_ce(forced["fine"], labels["fine"])
  assert abs(helpers.numpy_ce(predicted["fine"], labels["fine"]) -
             expected) > 1e-3
  logs = model.train_on_batch(features, labels, return_dict=True)
  np.testing.assert_allclose(logs["fine/loss"], expected, rtol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_sample_weights_weight_the_logged_head_losses(training):
  # sum(w * CE) over labelled examples / their count, for a train and a
  # test step alike (the logs of a train step are those before its update).
  spec = helpers.tiny_spec(missing=True)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  weights = np.random.default_rng(0).uniform(0.2, 2.0, 16).astype(np.float32)
  model = _sgd_model(spec)
  logits = model(features, training=training)
  step = model.train_on_batch if training else model.test_on_batch
  logs = step(features, labels, sample_weight=weights, return_dict=True)
  for head in ("coarse", "fine"):
    valid = labels[head] >= 0
    losses = -helpers.numpy_log_softmax(logits[head])[
        np.flatnonzero(valid), labels[head][valid]]
    np.testing.assert_allclose(
        logs[f"{head}/loss"], (weights[valid] * losses).sum() / valid.sum(),
        rtol=1e-5, err_msg=head)
