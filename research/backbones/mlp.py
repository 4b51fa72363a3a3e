"""Multi-layer perceptron for dense feature vectors."""

import keras

from research.backbones import layers


def mlp(input_shape, width=128, depth=2, l2=0.0, bn_gamma_l2=0.0):
  """Dense -> BatchNorm -> ReLU blocks.

  Args:
    input_shape: shape of one input; flattened first.
    width: units per hidden layer.
    depth: number of hidden layers.
    l2: L2 penalty on the kernels.
    bn_gamma_l2: L2 penalty on the batch-norm gammas.

  Returns:
    A keras.Model mapping inputs to [batch, width] features.
  """
  inputs = keras.Input(shape=input_shape)
  features = keras.layers.Flatten()(inputs)
  for _ in range(depth):
    features = keras.layers.Dense(width, use_bias=False,
                                  kernel_regularizer=layers.l2_or_none(l2))(
                                      features)
    features = layers.batch_norm(bn_gamma_l2)(features)
    features = keras.layers.ReLU()(features)
  return keras.Model(inputs, features, name="mlp")
