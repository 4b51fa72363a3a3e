"""Labels for new inputs: read them, run a restored model, write a CSV.

Readers are keyed by the task's `input_kind` (DataSpec.input_kind), the one
dispatch point to extend: a source with images registers a reader of image
files under "image", a text source one of CSV rows under "tokens", a TFRecord
reader can dispatch on the file suffix inside its kind. A reader returns
(ids, inputs) with inputs shaped like the task's `input_shape`.
"""

import csv
import os

import numpy as np

from research import evaluation

HEADS = evaluation.HEADS


def read_features(path, input_shape):
  """Feature rows from a .npy array [n, d] or a CSV of numbers (header allowed).

  Returns:
    (ids, features): row numbers as strings, float32 [n, d].
  """
  if path.endswith(".npy"):
    features = np.load(path)
  elif path.endswith(".csv"):
    features = _csv_numbers(path)
  else:
    raise ValueError(f"--input={path}: expected a .npy or .csv file of "
                     f"feature rows of width {input_shape[0]}")
  features = np.asarray(features, np.float32)
  if features.ndim != 2 or features.shape[1:] != tuple(input_shape):
    raise ValueError(f"{path}: features of shape {features.shape}; expected "
                     f"[n, {input_shape[0]}] rows for this model")
  return [str(i) for i in range(len(features))], features


def _csv_numbers(path):
  with open(path, newline="") as handle:
    rows = list(csv.reader(handle))
  if rows and not _is_number(rows[0][0]):
    rows = rows[1:]  # a header line
  numbers = []
  for line, row in enumerate(rows, start=1):
    try:
      numbers.append([float(cell) for cell in row])
    except ValueError:
      raise ValueError(f"{path}: data row {line}: expected only numbers, got "
                       f"{row}") from None
  return numbers


def _is_number(text):
  try:
    float(text)
  except ValueError:
    return False
  return True


READERS = {
    "features": read_features,
}


def read_inputs(path, spec):
  """(ids, inputs) for `path`, read the way the task's input kind needs."""
  if not os.path.exists(path):
    raise FileNotFoundError(f"--input={path}: no such file")
  if spec.input_kind not in READERS:
    raise ValueError(f"predict cannot read inputs of kind {spec.input_kind!r} "
                     f"yet; readers exist for {sorted(READERS)}")
  return READERS[spec.input_kind](path, spec.input_shape)


def predict(model, inputs, batch_size=256):
  """Probabilities and decoded labels (the model's decoder) of raw inputs.

  Returns:
    (probabilities, labels): {"coarse": [n, C], "fine": [n, F]} and
    {"coarse": [n], "fine": [n]}.
  """
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
