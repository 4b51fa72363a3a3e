"""Backbones: output shapes on tiny inputs, input-kind checks, weight decay."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from research import backbones
from research import config
from research import model as model_lib
from tests import helpers

VOCABULARY = ("", "[UNK]", "cat", "dog", "oak")


class ShapeTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("mlp", "mlp", (5,), "features", 4, 4),
      ("mlp_on_images", "mlp", (4, 4, 3), "image", 4, 4),
      ("cnn", "cnn", (8, 8, 3), "image", 4, 16),
      ("cnn_grayscale_2d", "cnn", (8, 8), "image", 4, 16),
      ("resnet18", "resnet18", (8, 8, 3), "image", 4, 32),
      ("resnext18", "resnext18", (8, 8, 3), "image", 4, 32),
      ("mobilenet_v2_upsized", "mobilenet_v2", (8, 8, 1), "image", 8, 1280),
  )
  def test_image_and_feature_backbones(self, name, shape, kind, width,
                                       features):
    model = backbones.build(name, shape, kind, width)
    out = model(np.random.default_rng(0).random((2, *shape), np.float32))
    self.assertEqual(tuple(out.shape), (2, features))

  @parameterized.named_parameters(("text_cnn", "text_cnn", 3 * 3),
                                  ("bilstm", "bilstm", 2 * 3))
  def test_text_backbones_take_raw_strings(self, name, features):
    model = backbones.build(name, (), "text", 3, vocabulary=VOCABULARY,
                            sequence_length=4)
    out = model(tf.constant(["the cat and the dog", ""]))
    self.assertEqual(tuple(out.shape), (2, features))
    vectorizer = model.get_layer("text_vectorization")
    self.assertEqual(vectorizer(tf.constant(["dog zebra"])).numpy().tolist(),
                     [[3, 1, 0, 0]])  # known, out-of-vocabulary, padding


@pytest.mark.parametrize("name, kind, expected", [
    ("mlp", "text", "--backbone=mlp takes features or image inputs, but the "
     "dataset gives text inputs; use one of ['bilstm', 'text_cnn']"),
    ("text_cnn", "image", "--backbone=text_cnn takes text inputs, but the "
     "dataset gives image inputs; use one of ['cnn', 'mlp', 'mobilenet_v2', "
     "'resnet18', 'resnext18', 'small_resnet']"),
    ("resnet18", "features", "--backbone=resnet18 takes image inputs, but the "
     "dataset gives features inputs; use one of ['mlp']"),
])
def test_wrong_input_kind_is_refused(name, kind, expected):
  with pytest.raises(ValueError) as error:
    backbones.build(name, (8, 8, 3), kind, 4, vocabulary=VOCABULARY,
                    sequence_length=4)
  assert str(error.value) == expected


def test_resnext_width_must_divide_into_groups():
  with pytest.raises(ValueError, match="--width=6 must be a multiple"):
    backbones.build("resnext18", (8, 8, 3), "image", 6)


def _gammas_and_kernels(model):
  gammas, kernels = [], []
  for variable in model.trainable_variables:
    name = variable.path.rsplit("/", 1)[-1]
    if name == "gamma":
      gammas.append(variable.numpy())
    elif name in ("kernel", "depthwise_kernel"):
      kernels.append(variable.numpy())
  return gammas, kernels


@pytest.mark.parametrize("name, shape", [
    ("cnn", (8, 8, 3)), ("resnet18", (8, 8, 3)), ("resnext18", (8, 8, 3)),
    ("mlp", (5,)), ("mobilenet_v2", (8, 8, 1))])
def test_l2_and_bn_gamma_l2_penalise_kernels_and_gammas(name, shape):
  kind = "features" if len(shape) == 1 else "image"
  model = backbones.build(name, shape, kind, 4 if name != "mobilenet_v2" else 8,
                          l2=0.01, bn_gamma_l2=0.1)
  model(np.ones((1, *shape), np.float32))
  gammas, kernels = _gammas_and_kernels(model)
  assert gammas and kernels
  expected = (0.1 * sum(float((g.astype(np.float64)**2).sum()) for g in gammas)
              + 0.01 * sum(float((k.astype(np.float64)**2).sum())
                           for k in kernels))
  np.testing.assert_allclose(float(sum(model.losses)), expected, rtol=1e-5)


def test_every_batch_norm_is_synchronized():
  for name in ("cnn", "resnet18", "mobilenet_v2"):
    model = backbones.build(name, (8, 8, 3), "image", 8)
    norms = [layer for layer in _all_layers(model)
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.synchronized for layer in norms), name


def _all_layers(model):
  for layer in model.layers:
    yield layer
    if isinstance(layer, keras.Model):
      yield from _all_layers(layer)


def _update_of_one_step(strategy, spec, backbone):
  with strategy.scope():
    keras.utils.set_random_seed(1)
    model = model_lib.build(
        config.ModelConfig(backbone=backbone, width=4, dropout=0.0, l2=1e-2,
                           bn_gamma_l2=1e-2), config.LossConfig(), spec)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
  before = [w.numpy() for w in model.weights]
  model.fit(spec.splits["train"].examples.batch(8), epochs=1, verbose=0,
            shuffle=False)
  return [w.numpy() - b for w, b in zip(model.weights, before)]


@pytest.mark.parametrize("backbone", ["cnn"])
def test_one_step_on_two_replicas_equals_one_replica(backbone, two_replicas):
  """Synchronized BN makes the update of a step replica-count independent."""
  spec = helpers.tiny_image_spec()
  single = _update_of_one_step(tf.distribute.get_strategy(), spec, backbone)
  mirrored = _update_of_one_step(two_replicas, spec, backbone)
  for one, two in zip(single, mirrored):
    np.testing.assert_allclose(two, one, rtol=1e-3, atol=1e-6)
