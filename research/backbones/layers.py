"""Layer choices shared by every backbone."""

import keras


def l2_or_none(rate):
  """An L2 regularizer, or None for rate 0 (so no zero losses are added)."""
  return keras.regularizers.L2(rate) if rate else None


def batch_norm(gamma_l2=0.0, **kwargs):
  """Batch norm whose statistics cover the global batch, not one replica's.

  Per-replica statistics make a step on 2 replicas differ from the same step
  on 1 replica; synchronised statistics keep results replica-count invariant.

  Args:
    gamma_l2: L2 penalty on the scale (gamma), separate from kernel decay.
    **kwargs: passed to keras.layers.BatchNormalization.
  """
  return keras.layers.BatchNormalization(
      synchronized=True, gamma_regularizer=l2_or_none(gamma_l2), **kwargs)


def conv_bn_relu(images, filters, kernel_size, strides=1, groups=1, l2=0.0,
                 bn_gamma_l2=0.0, relu=True):
  """Conv (no bias) -> synchronized BN -> optional ReLU."""
  images = keras.layers.Conv2D(filters, kernel_size, strides=strides,
                               padding="same", groups=groups, use_bias=False,
                               kernel_regularizer=l2_or_none(l2))(images)
  images = batch_norm(bn_gamma_l2)(images)
  return keras.layers.ReLU()(images) if relu else images


def image_input(input_shape):
  """(keras.Input, images [batch, h, w, c]); a 2-D shape gets a channel axis."""
  inputs = keras.Input(shape=input_shape)
  images = inputs
  if len(input_shape) == 2:
    images = keras.layers.Reshape((*input_shape, 1))(images)
  return inputs, images
