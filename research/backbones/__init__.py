"""Backbone registry: name -> builder, plus the input kinds each one accepts.

Every builder returns a model from one input to a [batch, features] tensor;
the heads sit on top. `build` refuses a backbone for the wrong input kind
(e.g. mlp on text) with a clear error instead of a shape error deep in Keras.
"""

import collections

from research import config
from research.backbones import applications
from research.backbones import resnet
from research.backbones import text
from research.backbones.cnn import cnn
from research.backbones.mlp import mlp

Entry = collections.namedtuple("Entry", ["builder", "input_kinds"])

REGISTRY = {
    "mlp": Entry(mlp, ("features", "image")),
    "cnn": Entry(cnn, ("image",)),
    "resnet18": Entry(resnet.resnet18, ("image",)),
    "resnext18": Entry(resnet.resnext18, ("image",)),
    "small_resnet": Entry(resnet.small_resnet, ("image",)),
    "mobilenet_v2": Entry(applications.mobilenet_v2, ("image",)),
    "text_cnn": Entry(text.text_cnn, ("text",)),
    "bilstm": Entry(text.bilstm, ("text",)),
}


def check_input_kind(name, input_kind):
  """Raises config.ConfigError unless backbone `name` takes `input_kind`."""
  if name not in REGISTRY:
    raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(REGISTRY)}")
  entry = REGISTRY[name]
  if input_kind not in entry.input_kinds:
    fitting = sorted(n for n, e in REGISTRY.items() if input_kind in e.input_kinds)
    raise config.ConfigError(
        f"--backbone={name} takes {' or '.join(entry.input_kinds)} inputs, "
        f"but the dataset gives {input_kind} inputs; use one of {fitting}")


def build(name, input_shape, input_kind, width, l2=0.0, bn_gamma_l2=0.0,
          vocabulary=None, sequence_length=0):
  """Builds backbone `name` for inputs of `input_kind`.

  Args:
    name: a REGISTRY key.
    input_shape: shape of one input without the batch axis.
    input_kind: "features", "image" or "text" (DataSpec.input_kind).
    width: base width (units, filters or embedding size).
    l2: L2 penalty on conv/dense kernels.
    bn_gamma_l2: L2 penalty on batch-norm gammas (backbones with batch norm).
    vocabulary, sequence_length: text only, from the DataSpec.

  Returns:
    A keras.Model from one input to [batch, features].
  """
  check_input_kind(name, input_kind)
  entry = REGISTRY[name]
  if input_kind == "text":
    return entry.builder(vocabulary, sequence_length, width=width, l2=l2)
  return entry.builder(input_shape, width=width, l2=l2,
                       bn_gamma_l2=bn_gamma_l2)
