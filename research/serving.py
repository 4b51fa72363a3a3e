"""SavedModel export with a serving signature from raw input to both heads.

The signature takes what a client has (feature rows for the synthetic task) and
returns each head's probabilities, decoded label and label name. Raw input is
turned into model input by the task's serving input, chosen by `input_kind`:
the dispatch point for image bytes (decode + resize) or text (tokenise), which
register a `ServingInput` in `SERVING_INPUTS` with a string TensorSpec.
"""

import collections

import keras
import tensorflow as tf

from research import evaluation

HEADS = evaluation.HEADS
SIGNATURE = "serve"  # also exported as "serving_default"

ServingInput = collections.namedtuple("ServingInput", ["tensor_spec", "to_model"])


def feature_input(spec):
  """Float feature rows [batch, *input_shape], fed to the model as they are."""
  return ServingInput(
      tf.TensorSpec([None, *spec.input_shape], tf.float32, name="features"),
      lambda features: features)


SERVING_INPUTS = {
    "features": feature_input,
}


def export(model, spec, export_dir):
  """Writes a SavedModel whose `serve` / `serving_default` signature labels raw input.

  Args:
    model: a trained TwoHeadModel.
    spec: its DataSpec (input kind, class names, hierarchy).
    export_dir: folder to write.

  Returns:
    export_dir. Outputs: `{head}_probabilities` [batch, classes],
    `{head}_label` [batch] int32, `{head}_name` [batch] string.
  """
  if spec.input_kind not in SERVING_INPUTS:
    raise ValueError(f"export has no serving input for {spec.input_kind!r} "
                     f"inputs yet; known: {sorted(SERVING_INPUTS)}")
  serving_input = SERVING_INPUTS[spec.input_kind](spec)
  names = {"coarse": tf.constant(spec.coarse_names),
           "fine": tf.constant(spec.fine_names)}

  def serve(raw):
    logits = model(serving_input.to_model(raw), training=False)
    probabilities = {head: tf.nn.softmax(logits[head], axis=-1)
                     for head in HEADS}
    labels = model.decode(logits)  # the decoder and hierarchy of training
    outputs = {}
    for head in HEADS:
      outputs[f"{head}_probabilities"] = probabilities[head]
      outputs[f"{head}_label"] = labels[head]
      outputs[f"{head}_name"] = tf.gather(names[head], labels[head])
    return outputs

  archive = keras.export.ExportArchive()
  archive.track(model)
  archive.add_endpoint(SIGNATURE, serve,
                       input_signature=[serving_input.tensor_spec])
  archive.write_out(export_dir, verbose=False)
  return export_dir
