"""Heads: the conditioned head's teacher forcing, the joint head's split, and
every head training end to end through `research.training.run`."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from research import config
from research import heads
from research import training
from tests import helpers


def _conditioned_model(spec):
  keras.utils.set_random_seed(5)
  return helpers.tiny_model(spec, head="conditioned")


def test_conditioned_inference_never_sees_the_true_coarse_label():
  spec = helpers.tiny_spec()
  model = _conditioned_model(spec)
  features, labels = helpers.first_batch(spec.splits["test"], 16)
  wrong = (labels["coarse"] + 1) % helpers.NUM_COARSE
  plain = model(features, training=False)
  with_truth = model(features, training=False, coarse_teacher=labels["coarse"])
  with_wrong = model(features, training=False, coarse_teacher=wrong)
  for head in ("coarse", "fine"):
    np.testing.assert_array_equal(with_truth[head], plain[head])
    np.testing.assert_array_equal(with_wrong[head], plain[head])
  np.testing.assert_array_equal(model.decode(with_wrong)["fine"],
                                model.decode(with_truth)["fine"])


def test_conditioned_training_is_teacher_forced():
  spec = helpers.tiny_spec()
  model = _conditioned_model(spec)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  wrong = (labels["coarse"] + 1) % helpers.NUM_COARSE
  forced = model(features, training=True, coarse_teacher=labels["coarse"])
  misled = model(features, training=True, coarse_teacher=wrong)
  np.testing.assert_array_equal(forced["coarse"], misled["coarse"])
  changed = np.abs(forced["fine"] - misled["fine"]).max(axis=1)
  assert (changed > 1e-4).all()


def test_conditioned_head_uses_the_prediction_where_the_teacher_is_missing():
  head = heads.build("conditioned", num_coarse=3, num_fine=5)
  features = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
  inferred = head(features, training=False)
  teacher = np.array([-1, 2, -1, 0])
  forced = head(features, coarse_teacher=teacher, training=True)
  missing = teacher < 0
  np.testing.assert_allclose(forced["fine"][missing],
                             np.asarray(inferred["fine"])[missing], rtol=1e-6)
  assert not np.allclose(forced["fine"][~missing],
                         np.asarray(inferred["fine"])[~missing])


@pytest.mark.parametrize("training", [True, False])
def test_fine_logits_do_not_train_the_coarse_head(training):
  # The predicted coarse distribution enters the fine head as a constant:
  # only the coarse loss moves the coarse layer (missing teachers included).
  head = heads.build("conditioned", num_coarse=3, num_fine=5)
  features = tf.constant(
      np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32))
  teacher = np.array([-1, 2, -1, 0])
  with tf.GradientTape() as tape:
    fine = head(features, coarse_teacher=teacher, training=training)["fine"]
    total = tf.reduce_sum(fine * np.arange(5, dtype=np.float32))
  gradients = tape.gradient(total, head.coarse.trainable_weights)
  assert all(g is None or not np.any(g.numpy()) for g in gradients)


def test_conditioned_inference_embeds_the_predicted_coarse_distribution():
  # fine = W_f [features, softmax(coarse) E] + b_f, in numpy from the layers'
  # weights: the expected embedding, not that of the argmax class.
  head = heads.build("conditioned", num_coarse=3, num_fine=5)
  features = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
  logits = head(features, training=False)
  coarse_kernel, coarse_bias = [w.numpy() for w in head.coarse.weights]
  fine_kernel, fine_bias = [w.numpy() for w in head.fine.weights]
  embedding = head.coarse_embedding.kernel.numpy()  # [3, 16]
  coarse = features @ coarse_kernel + coarse_bias
  mixed = helpers.numpy_softmax(coarse) @ embedding
  fine = np.concatenate([features, mixed], axis=1) @ fine_kernel + fine_bias
  np.testing.assert_allclose(logits["coarse"], coarse, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(logits["fine"], fine, rtol=1e-5, atol=1e-6)


def test_joint_head_splits_one_logit_vector():
  head = heads.build("joint", num_coarse=3, num_fine=5)
  features = np.ones((2, 4), np.float32)
  logits = head(features)
  joined = head.joined(features)
  np.testing.assert_array_equal(logits["coarse"], joined[:, :3])
  np.testing.assert_array_equal(logits["fine"], joined[:, 3:])


@pytest.mark.parametrize("head, loss, weights, message", [
    ("joint", "ce", (1.0, 1.0), "--head=joint .* needs --loss=multilabel_ce"),
    ("independent", "multilabel_ce", (1.0, 2.0), "--loss_weights must stay"),
])
def test_bad_head_and_loss_combinations_are_rejected(head, loss, weights,
                                                     message):
  with pytest.raises(ValueError, match=message):
    helpers.tiny_model(helpers.tiny_spec(), head=head, loss=loss,
                       loss_weights=weights)


def _tiny_run_config(head, loss, decode):
  return config.Config().replace(
      data={"synthetic_train_size": 96, "synthetic_feature_dim": 8,
            "synthetic_label_noise": 0.2},
      model={"head": head, "decode": decode, "width": 8},
      loss={"loss": loss},
      train={"epochs": 1, "batch_size": 32},
      runtime={"verbose": 0})


@pytest.mark.parametrize("head, loss, decode", [
    ("independent", "ce", "argmax"),
    ("conditioned", "ce", "consistent"),
    ("joint", "multilabel_ce", "consistent"),
])
def test_each_head_trains_through_the_training_run(tmp_path, head, loss,
                                                   decode):
  results = training.run(_tiny_run_config(head, loss, decode), str(tmp_path))
  test = results["test"]
  for name in ("coarse/macro_f1", "fine/macro_f1", "joint/consistency"):
    assert 0.0 <= test[name] <= 1.0, name
  assert ("joint/set_accuracy" in test) == (loss == "multilabel_ce")
  if decode == "consistent":
    assert test["joint/consistency"] == 1.0
  assert results["hierarchy"] == {"strict": True,
                                  "fine_under_several_coarse": 0}
  with open(os.path.join(tmp_path, "hierarchy.json")) as handle:
    saved = json.load(handle)
  assert saved["strict"] and np.asarray(saved["counts"]).sum() == 96
