"""A small convolutional net with batch norm for small images."""

import keras

from research.backbones import layers


def cnn(input_shape, width=32, l2=0.0, bn_gamma_l2=0.0):
  """Three conv stages (width, 2*width, 4*width), then global average pooling.

  Args:
    input_shape: (height, width, channels); a 2-D shape gets a channel axis.
    width: filters of the first stage.
    l2: L2 penalty on the kernels.
    bn_gamma_l2: L2 penalty on the batch-norm gammas.

  Returns:
    A keras.Model mapping images to [batch, 4 * width] features.
  """
  inputs, images = layers.image_input(input_shape)
  for stage in range(3):
    images = layers.conv_bn_relu(images, width * 2**stage, 3, l2=l2,
                                 bn_gamma_l2=bn_gamma_l2)
    images = keras.layers.MaxPooling2D()(images) if stage < 2 else images
  features = keras.layers.GlobalAveragePooling2D()(images)
  return keras.Model(inputs, features, name="cnn")
