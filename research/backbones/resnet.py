"""ResNet-18, ResNeXt-18 and a small ResNet sized for small images.

The stem is one 3x3 conv at stride 1 with no max-pool, so 32x32 inputs keep
enough resolution. ResNet-18: four stages of two blocks each at widths w, 2w,
4w, 8w, downsampling by 2 at stages 2-4. small_resnet: one block at each of
three resolutions at widths w, 3w, 9w, cheap enough for Fashion-MNIST in
minutes on two CPU cores.
"""

import keras

from research.backbones import layers

STAGE_STRIDES = (1, 2, 2, 2)
STAGE_WIDTHS = (1, 2, 4, 8)  # multiples of `width`
BLOCKS_PER_STAGE = 2


def _shortcut(images, filters, strides, l2, bn_gamma_l2):
  if strides == 1 and images.shape[-1] == filters:
    return images
  return layers.conv_bn_relu(images, filters, 1, strides=strides, l2=l2,
                             bn_gamma_l2=bn_gamma_l2, relu=False)


def basic_block(images, filters, strides, l2=0.0, bn_gamma_l2=0.0):
  """Two 3x3 convs plus the (projected) input."""
  shortcut = _shortcut(images, filters, strides, l2, bn_gamma_l2)
  out = layers.conv_bn_relu(images, filters, 3, strides, l2=l2,
                            bn_gamma_l2=bn_gamma_l2)
  out = layers.conv_bn_relu(out, filters, 3, l2=l2, bn_gamma_l2=bn_gamma_l2,
                            relu=False)
  return keras.layers.ReLU()(keras.layers.Add()([out, shortcut]))


def grouped_block(images, filters, strides, cardinality, l2=0.0,
                  bn_gamma_l2=0.0):
  """ResNeXt block: 1x1, grouped 3x3 (`cardinality` groups), 1x1, plus input."""
  shortcut = _shortcut(images, filters, strides, l2, bn_gamma_l2)
  out = layers.conv_bn_relu(images, filters, 1, l2=l2, bn_gamma_l2=bn_gamma_l2)
  out = layers.conv_bn_relu(out, filters, 3, strides, groups=cardinality,
                            l2=l2, bn_gamma_l2=bn_gamma_l2)
  out = layers.conv_bn_relu(out, filters, 1, l2=l2, bn_gamma_l2=bn_gamma_l2,
                            relu=False)
  return keras.layers.ReLU()(keras.layers.Add()([out, shortcut]))


def _residual_net(name, block, input_shape, width, l2, bn_gamma_l2,
                  stage_strides=STAGE_STRIDES, stage_widths=STAGE_WIDTHS,
                  blocks_per_stage=BLOCKS_PER_STAGE):
  inputs, images = layers.image_input(input_shape)
  images = layers.conv_bn_relu(images, width, 3, l2=l2,
                               bn_gamma_l2=bn_gamma_l2)
  for stride, multiple in zip(stage_strides, stage_widths):
    for index in range(blocks_per_stage):
      images = block(images, width * multiple, stride if index == 0 else 1,
                     l2=l2, bn_gamma_l2=bn_gamma_l2)
  features = keras.layers.GlobalAveragePooling2D()(images)
  return keras.Model(inputs, features, name=name)


def resnet18(input_shape, width=64, l2=0.0, bn_gamma_l2=0.0):
  """ResNet-18 with basic blocks.

  Args:
    input_shape: (height, width, channels); a 2-D shape gets a channel axis.
    width: filters of the stem and first stage (64 in the paper).
    l2: L2 penalty on the conv kernels.
    bn_gamma_l2: L2 penalty on the batch-norm gammas.

  Returns:
    A keras.Model mapping images to [batch, 8 * width] features.
  """
  return _residual_net("resnet18", basic_block, input_shape, width, l2,
                       bn_gamma_l2)


def resnext18(input_shape, width=64, l2=0.0, bn_gamma_l2=0.0, cardinality=4):
  """ResNeXt-18: ResNet-18's layout with grouped-convolution blocks.

  Args:
    input_shape: (height, width, channels); a 2-D shape gets a channel axis.
    width: filters of the stem and first stage; a multiple of `cardinality`.
    l2: L2 penalty on the conv kernels.
    bn_gamma_l2: L2 penalty on the batch-norm gammas.
    cardinality: groups of each 3x3 convolution.

  Returns:
    A keras.Model mapping images to [batch, 8 * width] features.
  """
  if width % cardinality:
    raise ValueError(f"resnext18: --width={width} must be a multiple of the "
                     f"cardinality {cardinality}")

  def block(images, filters, strides, l2, bn_gamma_l2):
    return grouped_block(images, filters, strides, cardinality, l2, bn_gamma_l2)

  return _residual_net("resnext18", block, input_shape, width, l2, bn_gamma_l2)


def small_resnet(input_shape, width=16, l2=0.0, bn_gamma_l2=0.0):
  """One basic block at each of three resolutions (28, 14, 7 for 28x28).

  Widths w, 3w, 9w put the capacity where convolutions are cheap: at width
  16 (16, 48, 144 filters, 22M multiply-adds per 28x28 image) a Fashion-MNIST
  recipe epoch on 2 CPU cores takes ~95 s against ~110 s for widths 24, 48,
  96 (21M); with the 16th epoch that this pays for, the recipe went from
  93.8% to 94.1% (one run each, so the two effects are not separated).
  XLA's CPU convolutions are sensitive to shape (in a probe, widths 16, 48,
  96 trained slower than 16, 48, 128): time a new width before relying on it.

  Args:
    input_shape: (height, width, channels); a 2-D shape gets a channel axis.
    width: filters of the stem and first block (then 3x, 9x).
    l2: L2 penalty on the conv kernels.
    bn_gamma_l2: L2 penalty on the batch-norm gammas.

  Returns:
    A keras.Model mapping images to [batch, 9 * width] features.
  """
  return _residual_net("small_resnet", basic_block, input_shape, width, l2,
                       bn_gamma_l2, stage_strides=(1, 2, 2),
                       stage_widths=(1, 3, 9), blocks_per_stage=1)
