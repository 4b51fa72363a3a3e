"""Heads: map shared features to {"coarse": logits, "fine": logits}.

Every head takes `coarse_teacher` (the true coarse labels during training) so
heads that condition on the coarse label can use it; others ignore it.

- independent: two linear softmax heads on the same features.
- conditioned: the fine head also sees a learned embedding of the coarse label:
  the true label in training (teacher forcing), the predicted coarse
  distribution at inference (as in Condition-CNN).
- joint: one linear layer producing the coarse+fine logit vector, trained as a
  set of two labels by a joint loss (`multilabel_ce`).

The heads' layers compute in float32 under a mixed-precision policy (the
Keras guide's advice for the last layer): the logits, and the probabilities
evaluation and export take from them, are float32 whatever `--mixed_precision`
says, as a runtime flag must not change what a model outputs beyond rounding.
"""

import keras
from keras import ops

from research import losses
from research.backbones.layers import l2_or_none


def _float32_dense(units, l2, name, use_bias=True):
  return keras.layers.Dense(units, use_bias=use_bias,
                            kernel_regularizer=l2_or_none(l2), dtype="float32",
                            name=name)


class IndependentHead(keras.layers.Layer):
  """Two linear softmax heads on the same features."""

  def __init__(self, num_coarse, num_fine, l2=0.0, **kwargs):
    super().__init__(**kwargs)
    self.coarse = _float32_dense(num_coarse, l2, "coarse_logits")
    self.fine = _float32_dense(num_fine, l2, "fine_logits")

  def call(self, features, coarse_teacher=None, training=False):
    del coarse_teacher, training  # independent heads do not condition
    return {"coarse": self.coarse(features),  # [batch, num_coarse]
            "fine": self.fine(features)}  # [batch, num_fine]


class ConditionedHead(keras.layers.Layer):
  """Fine logits from the features plus an embedding of the coarse label.

  In training the embedding is that of the true coarse label (teacher
  forcing); where the label is missing (-1), and always at inference, it is
  the embedding averaged under the predicted coarse distribution. The
  predicted distribution is a stop-gradient input, so the coarse head is
  trained by the coarse loss alone, in training and at inference alike.
  """

  def __init__(self, num_coarse, num_fine, l2=0.0, embedding_dim=16,
               **kwargs):
    super().__init__(**kwargs)
    self.num_coarse = num_coarse
    self.coarse = _float32_dense(num_coarse, l2, "coarse_logits")
    # A bias-free Dense on a distribution over coarse classes is exactly the
    # probability-weighted sum of per-class embedding rows.
    self.coarse_embedding = _float32_dense(embedding_dim, l2,
                                           "coarse_embedding", use_bias=False)
    self.fine = _float32_dense(num_fine, l2, "fine_logits")

  def call(self, features, coarse_teacher=None, training=False):
    coarse_logits = self.coarse(features)  # [batch, num_coarse]
    coarse_dist = ops.stop_gradient(ops.softmax(coarse_logits))
    if training and coarse_teacher is not None:
      teacher = ops.cast(ops.reshape(coarse_teacher, [-1]), "int32")  # [batch]
      known = ops.expand_dims(teacher >= 0, -1)  # [batch, 1]
      teacher_dist = ops.one_hot(ops.maximum(teacher, 0), self.num_coarse,
                                 dtype=coarse_dist.dtype)
      coarse_dist = ops.where(known, teacher_dist, coarse_dist)
    embedding = self.coarse_embedding(coarse_dist)  # [batch, embedding_dim]
    fine_inputs = ops.concatenate([features, embedding], axis=-1)
    return {"coarse": coarse_logits,
            "fine": self.fine(fine_inputs)}  # [batch, num_fine]


class JointHead(keras.layers.Layer):
  """One linear layer over the joined label vector, split into the two heads."""

  def __init__(self, num_coarse, num_fine, l2=0.0, **kwargs):
    super().__init__(**kwargs)
    self.num_coarse = num_coarse
    self.joined = _float32_dense(num_coarse + num_fine, l2, "joined_logits")

  def call(self, features, coarse_teacher=None, training=False):
    del coarse_teacher, training  # the joint head does not condition
    joined = self.joined(features)  # [batch, num_coarse + num_fine]
    return {"coarse": joined[:, :self.num_coarse],
            "fine": joined[:, self.num_coarse:]}


REGISTRY = {
    "conditioned": ConditionedHead,
    "independent": IndependentHead,
    "joint": JointHead,
}

# Heads whose logits only make sense under a loss over the joined vector.
NEEDS_JOINT_LOSS = ("joint",)


def check_loss(head, loss, overrides, loss_weights=(1.0, 1.0),
               loss_weight_schedule=""):
  """Raises ValueError (naming the flags) when head and losses do not fit.

  A joint loss is one loss over both heads, so both heads must name it (no
  --coarse_loss/--fine_loss split), and per-head loss weights and their
  schedule cannot apply to it; a joint head needs a joint loss.

  Args:
    head: the --head name.
    loss: the --loss name.
    overrides: {"coarse": --coarse_loss, "fine": --fine_loss}, None if unset.
    loss_weights: (w_coarse, w_fine).
    loss_weight_schedule: the --loss_weight_schedule text.
  """
  head_losses = {h: name or loss for h, name in overrides.items()}
  joint = {h: getattr(losses.REGISTRY.get(name), "joint", False)
           for h, name in head_losses.items()}
  # The flags as the user set them: --loss only if an override leaves it a
  # head to score.
  given = [f"--{h}_loss={name}" for h, name in overrides.items() if name]
  shown = ", ".join(given if all(overrides.values()) else
                    [f"--loss={loss}", *given])
  if any(joint.values()) and not all(joint.values()):
    raise ValueError(f"a joint loss scores both heads at once; got {shown}")
  if head in NEEDS_JOINT_LOSS and not all(joint.values()):
    raise ValueError(f"--head={head} trains one joined logit vector and needs "
                     f"--loss=multilabel_ce, got {shown}")
  if all(joint.values()) and (tuple(loss_weights) != (1.0, 1.0) or
                              loss_weight_schedule):
    raise ValueError(f"{shown} is one loss over both heads: --loss_weights "
                     "must stay 1,1 and --loss_weight_schedule empty")


def build(name, num_coarse, num_fine, l2=0.0):
  """Builds head `name`; raises ValueError naming the choices if unknown.

  Args:
    name: a key of REGISTRY.
    num_coarse, num_fine: widths of the two logit vectors.
    l2: L2 weight decay on the heads' kernels (logits and the conditioned
      head's coarse embedding).

  Returns:
    A Layer called as `head(features, coarse_teacher=None, training=False)`.
  """
  if name not in REGISTRY:
    raise ValueError(f"unknown head {name!r}; expected one of {sorted(REGISTRY)}")
  return REGISTRY[name](num_coarse, num_fine, l2=l2, name=f"{name}_head")
