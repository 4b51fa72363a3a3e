"""Layer choices shared by every backbone."""

import keras


def batch_norm(**kwargs):
  """Batch norm whose statistics cover the global batch, not one replica's.

  Per-replica statistics make a step on 2 replicas differ from the same step
  on 1 replica; synchronised statistics keep results replica-count invariant.
  """
  return keras.layers.BatchNormalization(synchronized=True, **kwargs)
