"""SavedModel export with a serving signature from raw input to both heads.

The signature takes what a client has and returns each head's probabilities,
decoded label and label name. Raw input is turned into model input by the
task's serving input, chosen by `input_kind`:
  features  `features` float32 [batch, *input_shape], fed as they are;
  image     `images` string [batch] of encoded JPEG/PNG/GIF/BMP files, decoded
            and resized in the graph by `images.decode` (the training
            decoder) to the model's input shape: grayscale for 1-channel
            tasks (Fashion-MNIST), RGB otherwise;
  text      `text` string [batch] of raw texts; the model's own
            TextVectorization (built from the run's vocabulary) tokenises.
"""

import collections

import keras
import tensorflow as tf

from research.data import images
from research.labels import HEADS

SIGNATURE = "serve"  # also exported as "serving_default"

ServingInput = collections.namedtuple("ServingInput", ["tensor_spec", "to_model"])


def feature_input(spec):
  """Float feature rows [batch, *input_shape], fed to the model as they are."""
  return ServingInput(
      tf.TensorSpec([None, *spec.input_shape], tf.float32, name="features"),
      lambda features: features)


def image_input(spec):
  """Encoded image files [batch], decoded as training decodes files."""
  height, width, channels = spec.input_shape

  def to_model(encoded):  # [batch] string
    return tf.map_fn(
        lambda one: images.decode(one, (height, width), channels), encoded,
        fn_output_signature=tf.TensorSpec([height, width, channels],
                                          tf.float32))  # [batch, h, w, c]

  return ServingInput(tf.TensorSpec([None], tf.string, name="images"),
                      to_model)


def text_input(spec):
  """Raw texts [batch]; the text backbone tokenises them itself."""
  del spec  # the vocabulary is inside the model
  return ServingInput(tf.TensorSpec([None], tf.string, name="text"),
                      lambda texts: texts)


SERVING_INPUTS = {
    "features": feature_input,
    "image": image_input,
    "text": text_input,
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
