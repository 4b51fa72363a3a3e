"""A keras.applications model (MobileNetV2) as a backbone, built without weights.

The application is cloned so its batch norms become synchronized (replica-count
invariant, like every other backbone) and carry the `l2` / `bn_gamma_l2`
penalties. Nothing is downloaded: `weights=None`.
"""

import keras

from research.backbones import layers

MIN_SIZE = 32  # MobileNetV2 refuses smaller inputs


def _regularized(l2, bn_gamma_l2):
  """clone_function: synchronized BN with gamma decay, kernels with L2."""
  def clone(layer):
    config = layer.get_config()
    if isinstance(layer, keras.layers.BatchNormalization):
      config.update(synchronized=True,
                    gamma_regularizer=layers.l2_or_none(bn_gamma_l2))
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
      config.update(depthwise_regularizer=layers.l2_or_none(l2))
    elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
      config.update(kernel_regularizer=layers.l2_or_none(l2))
    return layer.__class__.from_config(config)
  return clone


def mobilenet_v2(input_shape, width=32, l2=0.0, bn_gamma_l2=0.0):
  """MobileNetV2 (weights=None), inputs upsized to at least 32x32.

  Args:
    input_shape: (height, width, channels); a 2-D shape gets a channel axis.
    width: filters of the stem; 32 is the standard network (alpha = width/32).
    l2: L2 penalty on the conv kernels.
    bn_gamma_l2: L2 penalty on the batch-norm gammas.

  Returns:
    A keras.Model mapping images to [batch, 1280 * max(1, width/32)] features.
  """
  inputs, images = layers.image_input(input_shape)
  height, image_width = images.shape[1], images.shape[2]
  size = (max(height, MIN_SIZE), max(image_width, MIN_SIZE))
  if size != (height, image_width):
    images = keras.layers.Resizing(*size)(images)
  application = keras.applications.MobileNetV2(
      input_shape=(*size, images.shape[-1]), alpha=width / 32,
      include_top=False, weights=None, pooling="avg")
  application = keras.models.clone_model(
      application, clone_function=_regularized(l2, bn_gamma_l2))
  return keras.Model(inputs, application(images), name="mobilenet_v2")
