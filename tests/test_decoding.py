"""Decoding: consistent = brute force over allowed pairs; metrics use it."""

import itertools
import types

import numpy as np
import pytest
import tensorflow as tf

from research import decoding
from research import evaluation
from research.data import hierarchy
from tests import helpers


def _brute_force(coarse_logits, fine_logits, mask):
  log_coarse = helpers.numpy_log_softmax(coarse_logits)
  log_fine = helpers.numpy_log_softmax(fine_logits)
  best = []
  for row in range(len(coarse_logits)):
    pairs = [(c, f) for c, f in itertools.product(*map(range, mask.shape))
             if mask[c, f]]
    best.append(max(pairs, key=lambda p, r=row: log_coarse[r, p[0]] +
                    log_fine[r, p[1]]))
  return np.array(best)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_consistent_decoding_equals_brute_force_over_all_pairs(seed):
  rng = np.random.default_rng(seed)
  mask = (rng.random((4, 9)) < 0.3).astype(np.int32)
  mask[rng.integers(0, 4, 9), np.arange(9)] = 1  # every fine has a parent
  coarse = rng.normal(size=(32, 4)).astype(np.float32) * 3
  fine = rng.normal(size=(32, 9)).astype(np.float32) * 3
  decoded = decoding.consistent({"coarse": coarse, "fine": fine}, mask)
  expected = _brute_force(coarse, fine, mask)
  np.testing.assert_array_equal(decoded["coarse"], expected[:, 0])
  np.testing.assert_array_equal(decoded["fine"], expected[:, 1])


def test_argmax_decodes_each_head_alone():
  coarse = np.array([[0.0, 2.0], [3.0, 1.0]], np.float32)
  fine = np.array([[5.0, 1.0, 0.0], [0.0, 0.0, 4.0]], np.float32)
  decoded = decoding.decode("argmax", {"coarse": coarse, "fine": fine}, None)
  np.testing.assert_array_equal(decoded["coarse"], [1, 0])
  np.testing.assert_array_equal(decoded["fine"], [0, 2])


def test_decoding_probabilities_agrees_with_decoding_logits_far_apart():
  # Probabilities below float32's tiny (1.2e-38): gaps of 95 and 100 nats.
  mask = np.eye(2, dtype=np.float32)
  logits = {"coarse": np.array([[0.0, -95.0]]),
            "fine": np.array([[-100.0, 0.0]])}
  model = types.SimpleNamespace(
      decode=lambda log_probabilities: decoding.consistent(log_probabilities,
                                                           mask))
  from_logits = decoding.consistent(
      {head: tf.constant(value, tf.float32) for head, value in logits.items()},
      mask)
  probabilities = {head: evaluation.softmax(value)
                   for head, value in logits.items()}
  from_probabilities = evaluation.decode(model, probabilities)
  for head in ("coarse", "fine"):
    np.testing.assert_array_equal(from_logits[head].numpy(), [1])
    np.testing.assert_array_equal(from_probabilities[head], [1])


def test_unknown_decoder_names_the_choices():
  with pytest.raises(ValueError, match="'argmax', 'consistent'"):
    decoding.decode("beam", {}, None)


def _evaluate(spec, decode):
  tf.keras.utils.set_random_seed(3)
  model = helpers.tiny_model(spec, decode=decode)
  model.compile()
  logs = model.evaluate(spec.splits["test"].examples.batch(16),
                        return_dict=True, verbose=0)
  return model, logs


def test_consistency_is_exactly_one_with_consistent_decoding():
  spec = helpers.tiny_spec(size=48)
  assert hierarchy.counted(spec).strict
  _, argmax_logs = _evaluate(spec, "argmax")
  _, logs = _evaluate(spec, "consistent")
  assert argmax_logs["joint/consistency"] < 1.0  # untrained heads disagree
  assert logs["joint/consistency"] == 1.0


def test_metrics_score_the_decoded_predictions():
  spec = helpers.tiny_spec(size=48)
  model, logs = _evaluate(spec, "consistent")
  features, labels = helpers.first_batch(spec.splits["test"], 48)
  logits = model(features, training=False)
  mask = hierarchy.counted(spec).mask
  expected = _brute_force(logits["coarse"], logits["fine"], mask)
  np.testing.assert_allclose(
      logs["coarse/accuracy"], np.mean(expected[:, 0] == labels["coarse"]))
  np.testing.assert_allclose(
      logs["fine/accuracy"], np.mean(expected[:, 1] == labels["fine"]))
