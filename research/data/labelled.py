"""Shared reading of text label tables (label files, CSV): labels and checks.

A table is one split's file parsed into rows; the training table decides how
each label column is read (see `classes`), then every table is encoded and
checked: labels, and the fine->coarse relation within the file.
"""

import dataclasses
import os
from typing import List

import numpy as np

from research.data import classes
from research.data import problems as problems_lib
from research.data import splits as splits_lib


@dataclasses.dataclass
class Table:
  """One split file: per row its line, input (image path or text), raw labels."""
  path: str
  lines: List[int] = dataclasses.field(default_factory=list)
  inputs: List[str] = dataclasses.field(default_factory=list)
  coarse: List[str] = dataclasses.field(default_factory=list)
  fine: List[str] = dataclasses.field(default_factory=list)

  def add(self, line, item, coarse, fine):
    self.lines.append(line)
    self.inputs.append(item)
    self.coarse.append(coarse)
    self.fine.append(fine)


def utf8_text(path):
  """(text, []) of a UTF-8 file, else (None, [problem at its first bad line]).

  The whole file is decoded at once: a decoding stream's error gives only an
  offset into its buffer, not the line to name.
  """
  with open(path, "rb") as handle:
    data = handle.read()
  try:
    # utf-8-sig: a byte-order mark (spreadsheet exports write one) is not
    # part of the first column's name.
    return data.decode("utf-8-sig"), []
  except UnicodeDecodeError as error:
    line = data.count(b"\n", 0, error.start) + 1
    return None, [problems_lib.Problem(
        path, line, f"byte 0x{data[error.start]:02x} is not UTF-8; expected "
        "UTF-8 text")]


def encode(tables, num_coarse=0, num_fine=0):
  """Encodes every table's labels with columns fixed by the training table.

  Args:
    tables: split -> Table; must hold "train".
    num_coarse, num_fine: declared integer class counts (0 = inferred).

  Returns:
    (columns {"coarse", "fine"} -> LabelColumn,
     labels split -> (coarse [n], fine [n]) int32, problems list).
  """
  train = tables["train"]
  columns = {"coarse": classes.column_from_training("coarse", train.coarse,
                                                    num_coarse),
             "fine": classes.column_from_training("fine", train.fine, num_fine)}
  labels, found = {}, []
  for split, table in tables.items():
    coarse, coarse_problems = columns["coarse"].encode(
        table.coarse, table.path, table.lines)
    fine, fine_problems = columns["fine"].encode(
        table.fine, table.path, table.lines)
    found += sorted(coarse_problems + fine_problems, key=lambda p: p.line)
    found += problems_lib.fine_under_two_coarse(
        coarse, fine, table.path, table.lines, columns["coarse"].names,
        columns["fine"].names)
    labels[split] = (coarse, fine)
  return columns, labels, found


def fine_to_coarse(coarse, fine, num_fine):
  """[num_fine] parent of each fine class seen in training, or None if unseen."""
  parents = np.full(num_fine, -1, np.int32)
  both = (coarse >= 0) & (fine >= 0)
  parents[fine[both]] = coarse[both]
  return parents if (parents >= 0).all() else None


FLAGS_OF_SPLIT = {"train": "train_file", "validation": "val_file",
                  "test": "test_file"}
NOUN_OF_SPLIT = {"train": "training", "validation": "validation",
                 "test": "test"}


def _no_examples(split, table):
  """The problem of a split file without rows, which training cannot use.

  Only asked when reading the file found nothing wrong: when every row is
  malformed, those problems already say why the file has no rows.
  """
  if table.lines:
    return []
  return [problems_lib.Problem(
      table.path, None, f"no examples in the {NOUN_OF_SPLIT[split]} file")]


def read_all(files, read_table, num_coarse=0, num_fine=0):
  """Reads and checks every split file; raises DataError listing all problems.

  Args:
    files: split -> path or None (see splits.split_files).
    read_table: path -> (Table, problems) for this source's format.
    num_coarse, num_fine: declared integer class counts (0 = inferred).

  Returns:
    (columns, labels) as from `encode`, and split -> Table.
  """
  tables, found = {}, []
  for split, path in files.items():
    if path is None:
      continue
    if not os.path.isfile(path):
      found.append(problems_lib.Problem(
          str(path), None,
          f"{split} file not found (set --{FLAGS_OF_SPLIT[split]} or "
          "--data_dir)"))
      continue
    tables[split], table_problems = read_table(path)
    found += table_problems or _no_examples(split, tables[split])
  if "train" not in tables or not tables["train"].lines:
    # Without training rows the classes are unknown; labels cannot be checked.
    # `found` says why there are none (file not found, no or bad rows).
    problems_lib.raise_if_any(found)
  columns, labels, label_problems = encode(tables, num_coarse, num_fine)
  problems_lib.raise_if_any(sorted(found + label_problems,
                                   key=lambda p: (p.path, p.line or 0)))
  return columns, labels, tables


def rows_with_validation(tables, labels, share, seed):
  """split -> (inputs [n] object, coarse [n], fine [n]), validation carved
  from train (seeded `share`) when the source has none."""
  rows = {split: (np.array(table.inputs, dtype=object), *labels[split])
          for split, table in tables.items()}
  if "validation" not in rows:
    rows = splits_lib.with_validation_carved(rows, share, seed)
  return splits_lib.ordered(rows)
