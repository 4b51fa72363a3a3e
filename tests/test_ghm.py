"""GHM-C: equals a numpy transcription of mmdetection's GHMC loop over
several steps, keeps its EMA as model state (persists, checkpoints, untouched
by test_step, logged), and gives the same state on 2 replicas as on 1."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from research import config
from research import losses
from research import model as model_lib
from research.losses import cross_entropy
from research.losses import ghm
from research.losses import ghm_summaries
from tests import helpers

NUM_CLASSES = 6


class NumpyGHMC:
  """mmdetection's GHMC bin loop, in float64, on precomputed element arrays."""

  def __init__(self, bins, momentum):
    self.edges = np.arange(bins + 1, dtype=np.float32) / np.float32(bins)
    self.edges[-1] += 1e-6
    self.momentum = momentum
    self.acc_sum = np.zeros(bins)
    self.last_counts = np.zeros(bins)  # the last batch's counts, not mmdet's

  def weights(self, norms, valid):
    tot = max(valid.sum(), 1.0)
    weights = np.zeros_like(norms)
    non_empty = 0
    for i in range(len(self.acc_sum)):
      inds = (norms >= self.edges[i]) & (norms < self.edges[i + 1]) & valid
      num_in_bin = inds.sum()
      self.last_counts[i] = num_in_bin
      if num_in_bin > 0:
        if self.momentum > 0:
          self.acc_sum[i] = (self.momentum * self.acc_sum[i] +
                             (1 - self.momentum) * num_in_bin)
          weights[inds] = tot / self.acc_sum[i]
        else:
          weights[inds] = tot / num_in_bin
        non_empty += 1
    return weights / max(non_empty, 1), tot


def _np_elements(form, logits, labels):
  """(norms, losses, valid) per element (sigmoid) or per example (softmax)."""
  onehot = np.eye(logits.shape[1])[np.where(labels >= 0, labels, 0)]
  valid = labels >= 0
  if form == "sigmoid":
    norms = np.abs(1 / (1 + np.exp(-logits)) - onehot)
    losses = (np.maximum(logits, 0) - logits * onehot +
              np.log1p(np.exp(-np.abs(logits))))
    return norms, losses, np.broadcast_to(valid[:, None], logits.shape)
  shifted = logits - logits.max(axis=1, keepdims=True)
  probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
  norms = np.linalg.norm(probs - onehot, axis=1) / np.sqrt(2)
  losses = -np.log((probs * onehot).sum(axis=1))
  return norms, losses, valid


def _np_step(reference, form, logits, labels, sample_weight, class_weights):
  norms, losses, valid = _np_elements(form, logits, labels)
  weights, tot = reference.weights(norms, valid)
  example_weight = sample_weight * class_weights[np.where(labels >= 0,
                                                          labels, 0)]
  if form == "sigmoid":
    example_weight = example_weight[:, None]
  return float((weights * example_weight * losses)[valid].sum() / tot)


def _random_batch(rng, scale, size=10):
  logits = rng.normal(scale=scale, size=(size, NUM_CLASSES))
  labels = rng.integers(0, NUM_CLASSES, size)
  labels[rng.random(size) < 0.3] = -1
  return logits, labels, rng.uniform(0.2, 2.0, size)


def _layer_loss(layer, logits, labels, sample_weight=None, training=True):
  loss_sum, count = layer(tf.constant(labels), tf.constant(logits),
                          sample_weight=sample_weight, training=training)
  return float(loss_sum / max(float(count), 1.0))


@pytest.mark.parametrize("form", ghm.FORMS)
@pytest.mark.parametrize("momentum", [0.0, 0.75])
def test_ema_trajectory_equals_mmdetection_loop(form, momentum):
  rng = np.random.default_rng(0)
  class_weights = rng.uniform(0.5, 1.5, NUM_CLASSES)
  layer = ghm.GradientHarmonized(NUM_CLASSES, form=form, bins=10,
                                 momentum=momentum,
                                 class_weights=class_weights, dtype="float64")
  reference = NumpyGHMC(bins=10, momentum=momentum)
  emptied_bin_kept = False
  for scale in (0.3, 6.0, 1.0, 0.1):  # bins fill, empty, refill
    logits, labels, sample_weight = _random_batch(rng, scale)
    before = reference.acc_sum.copy()
    expected = _np_step(reference, form, logits, labels, sample_weight,
                        class_weights)
    got = _layer_loss(layer, logits, labels, sample_weight)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # The logged histogram is the batch's own counts, not the EMA.
    np.testing.assert_array_equal(layer.last_counts.numpy(),
                                  reference.last_counts)
    if momentum:
      np.testing.assert_allclose(layer.bin_counts.numpy(), reference.acc_sum,
                                 rtol=1e-12)
      kept = (before > 0) & (before == reference.acc_sum)
      emptied_bin_kept |= bool(kept.any())
  assert emptied_bin_kept or not momentum  # the test did hit an empty bin


def test_losses_build_takes_form_bins_and_momentum_from_the_config():
  # Not the defaults (softmax, 30, 0.75): a dropped option would show.
  loss_cfg = config.LossConfig(loss="ghm", ghm_form="sigmoid", ghm_bins=7,
                               ghm_momentum=0.5)
  layer = losses.build(loss_cfg, "fine", np.ones(NUM_CLASSES, np.int64))
  reference = NumpyGHMC(bins=7, momentum=0.5)
  rng = np.random.default_rng(6)
  ones = np.ones(NUM_CLASSES)
  for scale in (0.5, 3.0):
    logits, labels, sample_weight = _random_batch(rng, scale)
    expected = _np_step(reference, "sigmoid", logits, labels, sample_weight,
                        ones)
    got = _layer_loss(layer, logits.astype(np.float32), labels, sample_weight)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
  np.testing.assert_allclose(layer.bin_counts.numpy(), reference.acc_sum,
                             rtol=1e-6)


@pytest.mark.parametrize("form", ghm.FORMS)
def test_gradient_is_density_weighted_loss_gradient(form):
  # GHM treats its density weights as constants: d loss / d logits is
  # weight * example weight * (sigmoid or softmax - onehot) / tot.
  rng = np.random.default_rng(5)
  logits, labels, sample_weight = _random_batch(rng, 2.0)
  layer = ghm.GradientHarmonized(NUM_CLASSES, form=form, bins=10,
                                 momentum=0.75, dtype="float64")
  reference = NumpyGHMC(bins=10, momentum=0.75)
  norms, _, valid = _np_elements(form, logits, labels)
  weights, tot = reference.weights(norms, valid)
  onehot = np.eye(NUM_CLASSES)[np.where(labels >= 0, labels, 0)]
  if form == "sigmoid":
    predicted = 1 / (1 + np.exp(-logits))
  else:
    predicted = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    weights = weights[:, None]
  expected = (weights * sample_weight[:, None] * (predicted - onehot) *
              (labels >= 0)[:, None] / tot)
  variable = tf.Variable(logits)
  with tf.GradientTape() as tape:
    loss_sum, count = layer(tf.constant(labels), variable,
                            sample_weight=sample_weight, training=True)
    loss = loss_sum / count
  np.testing.assert_allclose(tape.gradient(loss, variable), expected,
                             rtol=1e-9, atol=1e-15)


def test_all_labels_ignored_gives_zero_loss_and_keeps_state():
  layer = ghm.GradientHarmonized(NUM_CLASSES, form="sigmoid",
                                 dtype="float64")
  logits, labels, _ = _random_batch(np.random.default_rng(1), 2.0)
  _layer_loss(layer, logits, labels)
  state = layer.bin_counts.numpy().copy()
  logits = tf.Variable(logits)
  with tf.GradientTape() as tape:
    loss_sum, count = layer(tf.constant(-np.ones(10, np.int64)), logits,
                            training=True)
  gradient = tape.gradient(loss_sum, logits)
  assert float(loss_sum) == 0.0 and float(count) == 0.0
  assert np.all(gradient.numpy() == 0.0)
  np.testing.assert_array_equal(layer.bin_counts.numpy(), state)


def test_one_bin_without_momentum_is_the_unweighted_loss():
  logits, labels, sample_weight = _random_batch(np.random.default_rng(4), 3.0)
  one_bin = ghm.GradientHarmonized(NUM_CLASSES, form="sigmoid", bins=1,
                                   momentum=0.0, dtype="float64")
  _, losses, valid = _np_elements("sigmoid", logits, labels)
  expected = (losses * sample_weight[:, None])[valid].sum() / valid.sum()
  np.testing.assert_allclose(
      _layer_loss(one_bin, logits, labels, sample_weight), expected,
      rtol=1e-12)


def test_one_bin_without_momentum_is_cross_entropy():
  logits, labels, sample_weight = _random_batch(np.random.default_rng(2), 3.0)
  one_bin = ghm.GradientHarmonized(NUM_CLASSES, form="softmax", bins=1,
                                   momentum=0.0, dtype="float64")
  ce = cross_entropy.CrossEntropy(NUM_CLASSES, dtype="float64")
  np.testing.assert_allclose(
      _layer_loss(one_bin, logits, labels, sample_weight),
      _layer_loss(ce, logits, labels, sample_weight), rtol=1e-12)


def test_evaluation_weights_like_training_without_changing_state():
  rng = np.random.default_rng(3)
  layer = ghm.GradientHarmonized(NUM_CLASSES, bins=5, dtype="float64")
  _layer_loss(layer, *_random_batch(rng, 1.0))
  state = layer.bin_counts.numpy().copy()
  batch = _random_batch(rng, 2.0)
  evaluated = _layer_loss(layer, *batch, training=False)
  np.testing.assert_array_equal(layer.bin_counts.numpy(), state)
  np.testing.assert_allclose(_layer_loss(layer, *batch), evaluated,
                             rtol=1e-12)
  assert not np.array_equal(layer.bin_counts.numpy(), state)


def _ghm_model(spec, strategy=None, learning_rate=0.5, form="softmax"):
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    keras.utils.set_random_seed(1)
    model = model_lib.build(config.ModelConfig(width=8, dropout=0.0),
                            config.LossConfig(loss="ghm", ghm_form=form), spec)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate))
  return model


def _ghm_state(model):
  return [w.numpy() for w in model.weights if "ghm" in w.path]


def test_state_persists_across_train_steps():
  spec = helpers.tiny_spec(size=16, missing=True)
  model = _ghm_model(spec, learning_rate=0.0)  # logits stay fixed
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  logits = model(features, training=True)  # batch-norm statistics as in fit
  model.fit(features, labels, batch_size=16, epochs=2, verbose=0)
  for head, loss in (("coarse", model.coarse_loss), ("fine", model.fine_loss)):
    reference = NumpyGHMC(bins=30, momentum=0.75)
    norms, _, valid = _np_elements(
        "softmax", logits[head].numpy().astype(np.float64), labels[head])
    for _ in range(2):
      reference.weights(norms, valid)
    np.testing.assert_allclose(loss.bin_counts.numpy(), reference.acc_sum,
                               rtol=1e-5)



def test_state_restores_from_weights_file_and_checkpoint(tmp_path):
  spec = helpers.tiny_spec(size=16)
  trained = _ghm_model(spec)
  trained.fit(spec.splits["train"].examples.batch(8), epochs=1, verbose=0)
  assert all(state.any() for state in _ghm_state(trained))
  trained.save_weights(str(tmp_path / "model.weights.h5"))
  tf.train.Checkpoint(model=trained).write(str(tmp_path / "ckpt"))
  from_file, from_checkpoint = _ghm_model(spec), _ghm_model(spec)
  from_file.load_weights(str(tmp_path / "model.weights.h5"))
  tf.train.Checkpoint(model=from_checkpoint).read(
      str(tmp_path / "ckpt")).assert_existing_objects_matched()
  for restored in (from_file, from_checkpoint):
    for expected, got in zip(_ghm_state(trained), _ghm_state(restored)):
      np.testing.assert_array_equal(got, expected)


def test_test_step_leaves_state_unchanged():
  spec = helpers.tiny_spec(size=16)
  model = _ghm_model(spec)
  model.fit(spec.splits["train"].examples.batch(8), epochs=1, verbose=0)
  before = _ghm_state(model)
  model.evaluate(spec.splits["test"].examples.batch(8), verbose=0)
  for expected, got in zip(before, _ghm_state(model)):
    np.testing.assert_array_equal(got, expected)


def _summary_values(folder):
  values = {}
  for name in os.listdir(folder):
    for event in tf.compat.v1.train.summary_iterator(os.path.join(folder,
                                                                  name)):
      for value in event.summary.value:
        values[value.tag] = tf.make_ndarray(value.tensor)
  return values


def test_summaries_write_density_and_extreme_bin_shares(tmp_path):
  spec = helpers.tiny_spec(size=16)
  model = _ghm_model(spec)
  model.fit(spec.splits["train"].examples.batch(16), epochs=1, verbose=0,
            callbacks=ghm_summaries.callbacks_for(model, str(tmp_path)))
  values = _summary_values(str(tmp_path / "train"))
  for head, loss in (("coarse", model.coarse_loss), ("fine", model.fine_loss)):
    counts = loss.bin_counts.numpy()
    density = values[f"ghm/{head}_density"]  # [bins, 3]
    np.testing.assert_allclose(density[:, 2], counts / counts.sum(),
                               rtol=1e-6)
    np.testing.assert_allclose(density[[0, -1], [0, 1]], [0.0, 1.0])
    share = loss.last_bin_share()
    np.testing.assert_allclose(share.sum(), 1.0, rtol=1e-6)
    assert float(values[f"ghm/{head}_lowest_bin_share"]) == share[0]
    assert float(values[f"ghm/{head}_highest_bin_share"]) == share[-1]


def test_callbacks_only_for_models_with_ghm(tmp_path):
  spec = helpers.tiny_spec(size=8)
  assert not ghm_summaries.callbacks_for(helpers.tiny_model(spec),
                                         str(tmp_path))


def _one_step(strategy, spec, features, labels, form):
  model = _ghm_model(spec, strategy=strategy, form=form)
  dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(
      len(features))
  model.fit(dataset, epochs=1, verbose=0, shuffle=False)
  replica_states = [  # the copy of each replica (MirroredVariable.values)
      [copy.numpy() for copy in getattr(w.value, "values", [w.value])]
      for w in model.weights if "ghm" in w.path]
  return [w.numpy() for w in model.weights], replica_states


@pytest.mark.parametrize("form", ghm.FORMS)
def test_one_step_on_two_replicas_equals_one_replica(two_replicas, form):
  spec = helpers.tiny_spec(size=15, missing=True)  # uneven split: 8 + 7
  features, labels = helpers.first_batch(spec.splits["train"], 15)
  single_weights, single_state = _one_step(
      tf.distribute.get_strategy(), spec, features, labels, form)
  mirrored_weights, mirrored_state = _one_step(
      two_replicas, spec, features, labels, form)
  for single, mirrored in zip(single_state, mirrored_state):
    assert len(mirrored) == 2  # each replica's copy matches one replica
    for replica_copy in mirrored:
      np.testing.assert_allclose(replica_copy, single[0], rtol=1e-6)
  for single, mirrored in zip(single_weights, mirrored_weights):
    np.testing.assert_allclose(mirrored, single, atol=1e-6)
