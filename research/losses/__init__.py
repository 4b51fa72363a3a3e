"""Loss registry: one name per loss, each usable on either head.

`build(name, num_classes, ...)` returns a `base.HeadLoss` layer; the model owns
it, so any state it keeps (GHM's histogram) is saved with the model.
"""

from research.losses import base
from research.losses import cross_entropy
from research.losses import multilabel

REGISTRY = {
    "ce": cross_entropy.CrossEntropy,
    "multilabel_ce": multilabel.MultilabelCE,
}


def build(name, num_classes, class_weights=None, head_name="head"):
  """Builds the loss `name` for a head with `num_classes` classes.

  Args:
    name: a key of REGISTRY.
    num_classes: width of the head's logits.
    class_weights: optional [num_classes] weights applied per example.
    head_name: used to name the layer (and its state) per head.

  Returns:
    A `base.HeadLoss`.
  """
  if name not in REGISTRY:
    raise ValueError(f"unknown loss {name!r}; expected one of {sorted(REGISTRY)}")
  return REGISTRY[name](num_classes=num_classes, class_weights=class_weights,
                        name=f"{head_name}_{name}_loss")
