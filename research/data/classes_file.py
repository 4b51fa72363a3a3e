"""`classes.json` in a run folder: what the label indices and tokens mean.

Written by `training.run`, so evaluate/predict can name classes (string class
names from label files map to indices in sorted order) and rebuild a text
model's TextVectorization without the training data.
"""

import os

from research import summaries

NAME = "classes.json"


def write(spec, model_dir):
  """Writes the class names, fine->coarse map and text vocabulary of `spec`."""
  record = {
      "dataset": spec.name,
      "coarse_names": list(spec.coarse_names),
      "fine_names": list(spec.fine_names),
      "fine_to_coarse": (None if spec.fine_to_coarse is None
                         else [int(p) for p in spec.fine_to_coarse]),
  }
  if spec.vocabulary is not None:
    record["vocabulary"] = list(spec.vocabulary)
    record["sequence_length"] = spec.sequence_length
  summaries.write_json(os.path.join(model_dir, NAME), record)


def read(model_dir):
  """The record `write` left in `model_dir`; FileNotFoundError naming it."""
  path = os.path.join(model_dir, NAME)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: missing; expected the {NAME} that "
                            "research.train writes into every model_dir")
  return summaries.read_json(path)
