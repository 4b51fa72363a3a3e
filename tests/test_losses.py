"""Loss zoo: every loss equals an independent numpy reference, reduces to CE
in its degenerate setting, has finite gradients at extreme logits, and is
built per head with class weights from the training labels."""

import copy

from absl import flags as absl_flags
import keras
import numpy as np
import pytest
import tensorflow as tf

from research import config
from research import flags as flags_lib
from research import model as model_lib
from research.losses import class_balance
from research.losses import cross_entropy
from research.losses import focal
from research.losses import logit_adjusted
import research.losses as losses_lib
from tests import helpers

NUM_CLASSES = 5
COUNTS = np.array([40, 3, 0, 12, 7])  # class 2 never seen in training


def _batch(seed=0, size=12, scale=3.0):
  """Random float64 logits, labels with some -1, sample and class weights."""
  rng = np.random.default_rng(seed)
  logits = rng.normal(scale=scale, size=(size, NUM_CLASSES))
  labels = rng.integers(0, NUM_CLASSES, size)
  labels[rng.random(size) < 0.25] = -1
  sample_weight = rng.uniform(0.2, 2.0, size)
  class_weights = rng.uniform(0.5, 1.5, NUM_CLASSES)
  return logits, labels, sample_weight, class_weights


def _np_weighted_mean(per_example, labels, sample_weight, class_weights):
  valid = labels >= 0
  weights = sample_weight * class_weights[np.where(valid, labels, 0)]
  return float((per_example * weights)[valid].sum() / max(valid.sum(), 1))


def _np_true(values, labels):
  return values[np.arange(len(labels)), np.where(labels >= 0, labels, 0)]


def _np_ce(logits, labels):
  return -_np_true(helpers.numpy_log_softmax(logits), labels)


def _np_label_smoothing(logits, labels, epsilon):
  log_probs = helpers.numpy_log_softmax(logits)
  return (-(1 - epsilon) * _np_true(log_probs, labels) -
          epsilon * log_probs.mean(axis=1))


def _np_focal(logits, labels, gamma, alpha):
  log_p = _np_true(helpers.numpy_log_softmax(logits), labels)
  return -alpha[np.where(labels >= 0, labels, 0)] * (
      1 - np.exp(log_p)) ** gamma * log_p


def _np_logit_adjusted(logits, labels, counts, tau):
  seen = np.maximum(counts, 1).astype(np.float64)
  return _np_ce(logits + tau * np.log(seen / seen.sum()), labels)


def _mean_loss(layer, logits, labels, sample_weight=None):
  loss_sum, count = layer(tf.constant(labels), tf.constant(logits),
                          sample_weight=sample_weight)
  return float(loss_sum / max(float(count), 1.0))


ALPHA = np.array([0.25, 1.0, 0.5, 2.0, 0.75])
CASES = {
    "ce": (lambda cw: cross_entropy.CrossEntropy(
        NUM_CLASSES, class_weights=cw, dtype="float64"), _np_ce),
    "label_smoothing": (lambda cw: cross_entropy.LabelSmoothing(
        NUM_CLASSES, epsilon=0.2, class_weights=cw, dtype="float64"),
                        lambda x, y: _np_label_smoothing(x, y, 0.2)),
    "focal": (lambda cw: focal.Focal(
        NUM_CLASSES, gamma=1.5, alpha=ALPHA, class_weights=cw,
        dtype="float64"), lambda x, y: _np_focal(x, y, 1.5, ALPHA)),
    "logit_adjusted": (lambda cw: logit_adjusted.LogitAdjusted(
        NUM_CLASSES, class_counts=COUNTS, tau=1.3, class_weights=cw,
        dtype="float64"),
                       lambda x, y: _np_logit_adjusted(x, y, COUNTS, 1.3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_equals_numpy_reference(name):
  make, reference = CASES[name]
  logits, labels, sample_weight, class_weights = _batch(seed=1)
  expected = _np_weighted_mean(reference(logits, labels), labels,
                               sample_weight, class_weights)
  got = _mean_loss(make(class_weights), logits, labels, sample_weight)
  np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_all_labels_missing_gives_zero_loss(name):
  make, _ = CASES[name]
  logits, _, _, class_weights = _batch(seed=2)
  labels = -np.ones(len(logits), np.int64)
  loss_sum, count = make(class_weights)(tf.constant(labels),
                                        tf.constant(logits))
  assert float(loss_sum) == 0.0 and float(count) == 0.0


@pytest.mark.parametrize("degenerate", [
    lambda: cross_entropy.LabelSmoothing(NUM_CLASSES, epsilon=0.0,
                                         dtype="float64"),
    lambda: focal.Focal(NUM_CLASSES, gamma=0.0, dtype="float64"),
    lambda: logit_adjusted.LogitAdjusted(NUM_CLASSES, COUNTS, tau=0.0,
                                         dtype="float64"),
], ids=["smoothing_0", "focal_gamma_0", "tau_0"])
def test_degenerate_setting_equals_cross_entropy(degenerate):
  logits, labels, sample_weight, _ = _batch(seed=3)
  ce = cross_entropy.CrossEntropy(NUM_CLASSES, dtype="float64")
  np.testing.assert_allclose(
      _mean_loss(degenerate(), logits, labels, sample_weight),
      _mean_loss(ce, logits, labels, sample_weight), rtol=1e-12)


def _loss_config(loss, **kw):
  return config.LossConfig(loss=loss, **kw)


@pytest.mark.parametrize("loss_cfg", [
    _loss_config("ce"), _loss_config("label_smoothing"),
    _loss_config("focal", focal_gamma=0.5),
    _loss_config("focal", focal_gamma=2.0),
    _loss_config("ghm", ghm_form="softmax"),
    _loss_config("ghm", ghm_form="sigmoid"),
    _loss_config("logit_adjusted", class_weight="balanced")],
                         ids=lambda c: f"{c.loss}-{c.ghm_form}-{c.focal_gamma}")
def test_gradients_are_finite_at_extreme_logits(loss_cfg):
  layer = losses_lib.build(loss_cfg, "fine", COUNTS)
  logits = tf.Variable(np.array([[1e4, -1e4, 0, 1e4, -1e4],
                                 [-1e4, 1e4, -1e4, -1e4, 1e4],
                                 [1e4, 1e4, 1e4, 1e4, 1e4],
                                 [-1e4, 1e4, -1e4, -1e4, -1e4]], np.float32))
  labels = tf.constant([1, 1, 3, 1])  # wrong, right (tied), tied, sure (p=1)
  with tf.GradientTape() as tape:
    loss_sum, count = layer(labels, logits, training=True)
  gradient = tape.gradient(loss_sum, logits)
  assert np.isfinite(float(loss_sum)) and float(count) > 0
  assert np.all(np.isfinite(gradient.numpy()))


def test_balanced_class_weights_follow_scikit_learn_formula():
  seen = np.array([40, 3, 1, 12, 7], np.float64)
  np.testing.assert_allclose(
      class_balance.class_weights("balanced", COUNTS),
      seen.sum() / (5 * seen), rtol=1e-12)


def test_effective_number_class_weights_sum_to_num_classes():
  beta = 0.9
  effective = np.array([(1 - beta ** n) / (1 - beta)
                        for n in (40, 3, 1, 12, 7)])
  expected = (1 / effective) / (1 / effective).sum() * 5
  np.testing.assert_allclose(
      class_balance.class_weights("effective_number", COUNTS, beta),
      expected, rtol=1e-12)
  assert class_balance.class_weights("none", COUNTS) is None


def test_build_uses_per_head_override_and_class_weights():
  cfg = _loss_config("ce", fine_loss="focal", class_weight="balanced")
  coarse = losses_lib.build(cfg, "coarse", np.array([3, 1]))
  fine = losses_lib.build(cfg, "fine", COUNTS)
  assert isinstance(coarse, cross_entropy.CrossEntropy)
  assert isinstance(fine, focal.Focal) and fine.num_classes == 5
  np.testing.assert_allclose(coarse.class_weights.numpy(), [4 / 6, 2.0],
                             rtol=1e-6)


def _np_effective_number_weights(counts, beta):
  seen = np.maximum(counts, 1)
  inverse = (1 - beta) / (1 - beta ** seen)
  return inverse / inverse.sum() * len(counts)


# Options away from their defaults, each on the head that names it.
CONFIGURED = {
    "smoothing_epsilon": (
        _loss_config("label_smoothing", smoothing_epsilon=0.3), "fine",
        lambda x, y: _np_label_smoothing(x, y, 0.3), np.ones(NUM_CLASSES)),
    "focal_gamma_and_coarse_alpha": (
        _loss_config("focal", focal_gamma=0.5, coarse_focal_alpha=tuple(ALPHA)),
        "coarse", lambda x, y: _np_focal(x, y, 0.5, ALPHA),
        np.ones(NUM_CLASSES)),
    "logit_adjust_tau": (
        _loss_config("logit_adjusted", logit_adjust_tau=0.4), "fine",
        lambda x, y: _np_logit_adjusted(x, y, COUNTS, 0.4),
        np.ones(NUM_CLASSES)),
    "class_weight_beta": (
        _loss_config("ce", class_weight="effective_number",
                     class_weight_beta=0.9), "fine", _np_ce,
        _np_effective_number_weights(COUNTS, 0.9)),
}


@pytest.mark.parametrize("name", sorted(CONFIGURED))
def test_build_passes_the_configured_options_to_the_loss(name):
  loss_cfg, head, reference, class_weights = CONFIGURED[name]
  logits, labels, sample_weight, _ = _batch(seed=6)
  logits = logits.astype(np.float32)  # built losses compute in float32
  expected = _np_weighted_mean(reference(logits, labels), labels,
                               sample_weight, class_weights)
  got = _mean_loss(losses_lib.build(loss_cfg, head, COUNTS), logits, labels,
                   sample_weight)
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_model_weights_classes_by_their_training_split_counts():
  # Balanced weights n / (C * n_c) from the train split's present labels
  # (-1 skipped, unseen classes counted once), not from another split.
  spec = helpers.tiny_spec(size=16, seed=3, missing=True)
  model = model_lib.build(config.ModelConfig(width=8),
                          _loss_config("ce", class_weight="balanced"), spec)
  train = spec.splits["train"]
  for head, labels, layer in (("coarse", train.coarse, model.coarse_loss),
                              ("fine", train.fine, model.fine_loss)):
    assert (labels < 0).any(), head
    seen = np.array([max(np.sum(labels == k), 1)
                     for k in range(layer.num_classes)], np.float64)
    np.testing.assert_allclose(layer.class_weights.numpy(),
                               seen.sum() / (layer.num_classes * seen),
                               rtol=1e-6, err_msg=head)


def test_build_rejects_focal_alpha_of_the_wrong_length():
  cfg = _loss_config("focal", fine_focal_alpha=(1.0, 2.0))
  with pytest.raises(ValueError, match="--fine_focal_alpha: expected 5"):
    losses_lib.build(cfg, "fine", COUNTS)


def test_build_rejects_class_weights_for_a_joint_loss():
  cfg = _loss_config("multilabel_ce", class_weight="balanced")
  with pytest.raises(config.ConfigError, match=(
      "--class_weight=balanced does not apply to --loss=multilabel_ce")):
    losses_lib.build(cfg, "coarse", COUNTS)


def test_logit_adjustment_changes_the_loss_but_not_the_predictions():
  spec = helpers.tiny_spec(size=16, seed=5)
  features, labels = helpers.first_batch(spec.splits["test"], 16)
  logs = {}
  for loss in ("ce", "logit_adjusted"):
    keras.utils.set_random_seed(0)  # same weights for both models
    model = helpers.tiny_model(spec, loss=loss)
    model.compile(optimizer="sgd")
    logs[loss] = model.evaluate(features, labels, batch_size=16,
                                return_dict=True, verbose=0)
  for name in ("coarse/accuracy", "fine/accuracy", "fine/top3_accuracy"):
    assert logs["logit_adjusted"][name] == logs["ce"][name]
  assert logs["logit_adjusted"]["fine/loss"] != logs["ce"]["fine/loss"]


def _parsed_loss_config(*argv):
  flag_values = copy.deepcopy(flags_lib.FLAGS)
  flag_values(["prog", *argv])
  return config.from_flags(flag_values, flags_lib.GROUPS).loss


def test_loss_flags_default_to_the_config_defaults_and_parse_alpha():
  assert _parsed_loss_config() == config.LossConfig()
  parsed = _parsed_loss_config("--fine_loss=focal", "--fine_focal_alpha=0.5,1")
  assert parsed.fine_loss == "focal" and parsed.coarse_loss is None
  assert parsed.fine_focal_alpha == (0.5, 1.0)


@pytest.mark.parametrize("argv, flag", [
    ("--ghm_momentum=1", "ghm_momentum"), ("--ghm_bins=0", "ghm_bins"),
    ("--focal_gamma=-1", "focal_gamma"),
    ("--smoothing_epsilon=1", "smoothing_epsilon"),
    ("--class_weight_beta=1", "class_weight_beta"),
    ("--coarse_focal_alpha=a,1", "coarse_focal_alpha"),
    ("--fine_focal_alpha=-1,1", "fine_focal_alpha"),
    (["--head=joint", "--loss=multilabel_ce", "--class_weight=balanced"],
     "class_weight"),
    (["--fine_loss=multilabel_ce", "--coarse_loss=multilabel_ce",
      "--class_weight=effective_number"], "class_weight")])
def test_bad_loss_flag_values_name_the_flag(argv, flag):
  argv = [argv] if isinstance(argv, str) else argv
  with pytest.raises(absl_flags.IllegalFlagValueError, match=f"--{flag}="):
    _parsed_loss_config(*argv)
