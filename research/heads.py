"""Heads: map shared features to {"coarse": logits, "fine": logits}.

Every head takes `coarse_teacher` (the true coarse labels during training) so
heads that condition on the coarse label can use it; others ignore it.
"""

import keras


class IndependentHead(keras.layers.Layer):
  """Two linear softmax heads on the same features."""

  def __init__(self, num_coarse, num_fine, l2=0.0, **kwargs):
    super().__init__(**kwargs)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    self.coarse = keras.layers.Dense(num_coarse, kernel_regularizer=regularizer,
                                     name="coarse_logits")
    self.fine = keras.layers.Dense(num_fine, kernel_regularizer=regularizer,
                                   name="fine_logits")

  def call(self, features, coarse_teacher=None, training=False):
    del coarse_teacher, training  # independent heads do not condition
    return {"coarse": self.coarse(features),  # [batch, num_coarse]
            "fine": self.fine(features)}  # [batch, num_fine]


REGISTRY = {
    "independent": IndependentHead,
}


def build(name, num_coarse, num_fine, l2=0.0):
  """Builds head `name`; raises ValueError naming the choices if unknown."""
  if name not in REGISTRY:
    raise ValueError(f"unknown head {name!r}; expected one of {sorted(REGISTRY)}")
  return REGISTRY[name](num_coarse, num_fine, l2=l2, name=f"{name}_head")
