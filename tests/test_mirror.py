"""--mirror_at_inference: outside training the logits are the mean of the
image's and its mirror's; training steps see one view; images only."""

import keras
import numpy as np
import pytest

from research import config
from research import model as model_lib
from tests import helpers


def _model(spec, mirror):
  keras.utils.set_random_seed(3)
  return model_lib.build(
      config.ModelConfig(backbone="cnn", width=4, dropout=0.0,
                         mirror_at_inference=mirror), config.LossConfig(), spec)


def test_inference_logits_average_the_image_and_its_mirror():
  spec = helpers.tiny_image_spec()
  images = np.random.default_rng(1).random((5, 8, 8, 3), np.float32)
  plain = _model(spec, mirror=False)
  mirrored = _model(spec, mirror=True)  # same seed: same weights
  got = mirrored(images, training=False)
  for head in ("coarse", "fine"):
    as_is = np.asarray(plain(images, training=False)[head])
    flipped = np.asarray(plain(images[:, :, ::-1], training=False)[head])
    np.testing.assert_allclose(got[head], (as_is + flipped) / 2, rtol=1e-5,
                               atol=1e-6)


def test_evaluation_scores_the_averaged_logits_and_training_one_view():
  spec = helpers.tiny_image_spec()
  split = spec.splits["train"]
  model = _model(spec, mirror=True)
  model.compile()
  images, labels = helpers.first_batch(split, 8)
  fine = model(images, training=False)["fine"]
  logs = model.evaluate(split.examples.batch(8), return_dict=True, verbose=0)
  np.testing.assert_allclose(logs["fine/loss"],
                             helpers.numpy_ce(fine, labels["fine"]), rtol=1e-5)
  plain = _model(spec, mirror=False)
  np.testing.assert_allclose(model(images, training=True)["fine"],
                             plain(images, training=True)["fine"], rtol=1e-5,
                             atol=1e-6)


def test_inputs_that_are_not_images_are_refused():
  with pytest.raises(ValueError, match="--mirror_at_inference needs image "
                     "inputs, but the dataset gives features inputs"):
    model_lib.build(config.ModelConfig(mirror_at_inference=True),
                    config.LossConfig(), helpers.tiny_spec())
