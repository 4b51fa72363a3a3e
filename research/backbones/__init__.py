"""Backbone registry: name -> builder(input_shape, width, l2) -> keras.Model.

Every builder returns a model from one input to a [batch, features] tensor;
the heads sit on top.
"""

from research.backbones.cnn import cnn
from research.backbones.mlp import mlp

REGISTRY = {
    "mlp": mlp,
    "cnn": cnn,
}


def build(name, input_shape, width, l2=0.0):
  """Builds backbone `name`; raises ValueError naming the choices if unknown."""
  if name not in REGISTRY:
    raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(REGISTRY)}")
  return REGISTRY[name](input_shape, width=width, l2=l2)
