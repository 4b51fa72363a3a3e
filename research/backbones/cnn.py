"""A small convolutional net with batch norm for small images."""

import keras

from research.backbones import layers


def cnn(input_shape, width=32, l2=0.0):
  """Three conv stages (width, 2*width, 4*width), then global average pooling.

  Args:
    input_shape: (height, width, channels); a 2-D shape gets a channel axis.
    width: filters of the first stage.
    l2: L2 penalty on the kernels.

  Returns:
    A keras.Model mapping images to [batch, 4 * width] features.
  """
  regularizer = keras.regularizers.L2(l2) if l2 else None
  inputs = keras.Input(shape=input_shape)
  images = inputs
  if len(input_shape) == 2:
    images = keras.layers.Reshape((*input_shape, 1))(images)
  for stage in range(3):
    images = keras.layers.Conv2D(width * 2**stage, 3, padding="same",
                                 use_bias=False,
                                 kernel_regularizer=regularizer)(images)
    images = layers.batch_norm()(images)
    images = keras.layers.ReLU()(images)
    images = keras.layers.MaxPooling2D()(images) if stage < 2 else images
  features = keras.layers.GlobalAveragePooling2D()(images)
  return keras.Model(inputs, features, name="cnn")
