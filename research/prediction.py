"""Labels for new inputs: read them, run a restored model, write a CSV.

Readers (research/prediction_inputs.py) are keyed by the task's `input_kind`
(DataSpec.input_kind): features (.npy / .csv rows), image (image files,
folders, lists of paths, .npy pixel arrays) and text (CSV with the run's text
column). A `.tfrecord` file is read by the TFRecord reader whatever the kind.
"""

import csv
import os

import numpy as np
import tensorflow as tf

from research import evaluation
from research import prediction_inputs
from research.data import problems as problems_lib
from research.labels import HEADS

READERS = {
    "features": prediction_inputs.read_features,
    "image": prediction_inputs.read_images,
    "text": prediction_inputs.read_texts,
}
FOLDER_KINDS = ("image",)  # kinds whose reader takes a folder of files


def read_inputs(path, spec, data_cfg):
  """(ids, inputs) for `path`, read the way the task's input kind needs.

  Args:
    path: the --input file or folder.
    spec: the run's DataSpec.
    data_cfg: the run's DataConfig (text_column), with `data_dir` the folder
      that image paths in a list file are relative to ("" = the list's).

  Raises:
    problems.DataError naming the file and what was expected.
  """
  if not os.path.exists(path):
    raise problems_lib.DataError([problems_lib.Problem(
        path, None, "no such file or folder (--input)")])
  if path.lower().endswith(prediction_inputs.TFRECORD_SUFFIXES):
    return prediction_inputs.read_tfrecord(path, spec)
  if os.path.isdir(path) and spec.input_kind not in FOLDER_KINDS:
    raise problems_lib.DataError([problems_lib.Problem(
        path, None, f"a folder; {spec.input_kind} inputs come in one file")])
  if spec.input_kind not in READERS:
    raise problems_lib.DataError([problems_lib.Problem(
        path, None, f"predict cannot read inputs of kind {spec.input_kind!r};"
        f" readers exist for {sorted(READERS)}")])
  return READERS[spec.input_kind](path, spec, data_cfg)


def predict(model, inputs, batch_size=256):
  """Probabilities and decoded labels (the model's decoder) of raw inputs.

  Returns:
    (probabilities, labels): {"coarse": [n, C], "fine": [n, F]} and
    {"coarse": [n], "fine": [n]}.
  """
  if inputs.dtype == object:  # texts: Keras wants a string tensor
    inputs = tf.constant(inputs.astype(str))
  logits = model.predict(inputs, batch_size=batch_size, verbose=0)
  probabilities = {head: evaluation.softmax(np.asarray(logits[head],
                                                       np.float64))
                   for head in HEADS}
  labels = evaluation.decode(model, probabilities)
  return probabilities, labels


def write_csv(path, ids, probabilities, labels, spec):
  """One row per input: id, then per head label, name, its probability, and
  the whole distribution as `<head>_p_<class name>` columns."""
  names = {"coarse": spec.coarse_names, "fine": spec.fine_names}
  header = ["id"]
  for head in HEADS:
    header += [head, f"{head}_name", f"{head}_probability"]
  for head in HEADS:
    header += [f"{head}_p_{name}" for name in names[head]]
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  with open(path, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(header)
    for row, example_id in enumerate(ids):
      cells = [example_id]
      for head in HEADS:
        label = int(labels[head][row])
        cells += [label, names[head][label],
                  f"{probabilities[head][row, label]:.6f}"]
      for head in HEADS:
        cells += [f"{p:.6f}" for p in probabilities[head][row]]
      writer.writerow(cells)
