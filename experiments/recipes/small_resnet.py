"""A small residual CNN for 28x28 images, sized for minutes on two CPU cores.

ResNet-18 at 28x28 spends most of its time at full resolution; this net keeps
one block per resolution (28, 14, 7) at widths w, 2w, 4w, about 9.4M
multiply-adds per image at w=16 and 21M at w=24. The Fashion-MNIST recipe registers it as the
`small_resnet` backbone.
"""

import keras

from research.backbones import layers

STAGES = 3


def _batch_norm_relu(images, relu=True):
  images = layers.batch_norm()(images)
  return keras.layers.ReLU()(images) if relu else images


def _conv(images, filters, kernel_size, strides, regularizer):
  return keras.layers.Conv2D(filters, kernel_size, strides=strides,
                             padding="same", use_bias=False,
                             kernel_regularizer=regularizer)(images)


def residual_block(images, filters, strides, regularizer):
  """Two 3x3 conv-BN layers plus the input (1x1-projected when the shape
  changes). images [batch, h, w, c] -> [batch, h/strides, w/strides, filters]."""
  shortcut = images
  if strides != 1 or images.shape[-1] != filters:
    shortcut = _batch_norm_relu(
        _conv(images, filters, 1, strides, regularizer), relu=False)
  out = _batch_norm_relu(_conv(images, filters, 3, strides, regularizer))
  out = _batch_norm_relu(_conv(out, filters, 3, 1, regularizer), relu=False)
  return keras.layers.ReLU()(keras.layers.Add()([out, shortcut]))


def small_resnet(input_shape, width=16, l2=0.0, **unused_kwargs):
  """Stem conv, then one residual block at each of 3 resolutions, then GAP.

  Args:
    input_shape: (height, width, channels); a 2-D shape gets a channel axis.
    width: filters of the stem and first block (then 2x, 4x).
    l2: L2 penalty on the conv kernels.
    **unused_kwargs: options other backbones take (bn_gamma_l2), ignored.

  Returns:
    A keras.Model mapping images to [batch, 4 * width] features.
  """
  regularizer = keras.regularizers.L2(l2) if l2 else None
  inputs = keras.Input(shape=input_shape)
  images = inputs
  if len(input_shape) == 2:
    images = keras.layers.Reshape((*input_shape, 1))(images)
  images = _batch_norm_relu(_conv(images, width, 3, 1, regularizer))
  for stage in range(STAGES):
    images = residual_block(images, width * 2**stage, 1 if stage == 0 else 2,
                            regularizer)
  features = keras.layers.GlobalAveragePooling2D()(images)  # [batch, 4w]
  return keras.Model(inputs, features, name="small_resnet")
