"""Label columns of text sources: integer class indices or class names.

A column is read as integers when most of its training-file labels parse as
integers; otherwise its values are class names, indexed in sorted order. `-1`
marks a missing label in both forms. The training file fixes the classes, so
validation and test labels are checked against it.
"""

import dataclasses
from typing import Tuple

import numpy as np

from research.data import problems as problems_lib

MISSING = "-1"


def _as_int(text):
  try:
    return int(text)
  except ValueError:
    return None


@dataclasses.dataclass(frozen=True)
class LabelColumn:
  """How one head's raw labels map to indices."""
  head: str  # "coarse" or "fine"
  names: Tuple[str, ...]
  integer: bool
  inferred: bool  # integer class count taken from the training file

  def encode(self, raw, path, lines):
    """Returns ([n] int32 labels with -1 for missing or bad, problems)."""
    index = {name: i for i, name in enumerate(self.names)}
    labels = np.full(len(raw), -1, np.int32)
    found = []
    for i, (text, line) in enumerate(zip(raw, lines)):
      if text == MISSING:
        continue
      if not self.integer:
        if text in index:
          labels[i] = index[text]
        else:
          found.append(problems_lib.Problem(
              path, line, f"{self.head} label {text!r} is not a class of the "
              "training file"))
        continue
      value = _as_int(text)
      if value is None:
        found.append(problems_lib.Problem(
            path, line, f"{self.head} label {text!r} is not an integer"))
      elif not 0 <= value < len(self.names):
        hint = (f"; the training file's largest is {len(self.names) - 1}, "
                f"set --num_{self.head}_classes if classes are missing there"
                if self.inferred and value >= len(self.names) else "")
        found.append(problems_lib.Problem(
            path, line, f"{self.head} label {value} out of range "
            f"[0, {len(self.names)}){hint}"))
      else:
        labels[i] = value
    return labels, found


def column_from_training(head, raw, num_classes=0):
  """Decides integer vs name labels from the training file's raw labels.

  Args:
    head: "coarse" or "fine".
    raw: label strings of the training file.
    num_classes: declared class count for integer labels (0 = 1 + largest).

  Returns:
    A LabelColumn.
  """
  present = [text for text in raw if text != MISSING]
  values = [v for v in map(_as_int, present) if v is not None]
  if present and 2 * len(values) <= len(present):
    return LabelColumn(head, tuple(sorted(set(present))), integer=False,
                       inferred=False)
  count = num_classes or (max(values, default=-1) + 1)
  return LabelColumn(head, tuple(str(i) for i in range(count)), integer=True,
                     inferred=not num_classes)
