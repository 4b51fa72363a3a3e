"""`csv_text`: a CSV file per split with a text column and two label columns.

The first row is the header; `--text_column`, `--coarse_column` and
`--fine_column` name the columns (standard CSV quoting, so texts may hold
commas, quotes and newlines). A `keras.layers.TextVectorization` is adapted on
the training texts; its vocabulary travels in the DataSpec and the text
backbones build it into the model, so it is saved with the weights' model.
"""

import csv
import io

import keras
import numpy as np

from research.data import labelled
from research.data import problems as problems_lib
from research.data import spec as spec_lib
from research.data import splits as splits_lib

DEFAULT_FILES = {"train": "train.csv", "validation": "val.csv",
                 "test": "test.csv"}


def _column_indices(header, data_cfg, path):
  names = {"text": data_cfg.text_column, "coarse": data_cfg.coarse_column,
           "fine": data_cfg.fine_column}
  missing = [(role, name) for role, name in names.items() if name not in header]
  found = [problems_lib.Problem(
      path, 1, f"no {role} column {name!r} in the header (columns: "
      f"{', '.join(header)}; set --{role}_column)") for role, name in missing]
  return {role: header.index(name) for role, name in names.items()
          if name in header}, found


def read_table(path, data_cfg):
  """Parses one CSV file into a Table of texts + problems."""
  table = labelled.Table(path)
  text, found = labelled.utf8_text(path)
  if text is None:
    return table, found
  reader = csv.reader(io.StringIO(text, newline=""), strict=True)
  start = 1  # line where the record being read starts
  try:
    header = next(reader, None)
    if header is None:
      return table, [problems_lib.Problem(path, 1, "empty file, expected a "
                                          "header row")]
    columns, found = _column_indices(header, data_cfg, path)
    if found:
      return table, found
    start = reader.line_num + 1
    for row in reader:
      found += _add_row(table, row, start, header, columns)
      start = reader.line_num + 1
  except csv.Error as error:
    found.append(problems_lib.Problem(path, start, f"unreadable CSV: {error}"))
  keys = zip(table.inputs, table.coarse, table.fine)
  return table, found + problems_lib.duplicates(list(keys), path, table.lines)


def _add_row(table, row, line, header, columns):
  if not row:
    return []
  if len(row) != len(header):
    return [problems_lib.Problem(
        table.path, line, f"expected {len(header)} fields (as the header), "
        f"found {len(row)}")]
  text = row[columns["text"]]
  table.add(line, text, row[columns["coarse"]].strip(),
            row[columns["fine"]].strip())
  if not text.strip():
    return [problems_lib.Problem(table.path, line, "empty text")]
  return []


def adapted_vocabulary(texts, vocab_size, sequence_length):
  """Vocabulary of a TextVectorization adapted on `texts` (padding, OOV first)."""
  vectorizer = keras.layers.TextVectorization(
      max_tokens=vocab_size, output_sequence_length=sequence_length)
  vectorizer.adapt(np.asarray(texts, dtype=object))
  return tuple(str(token) for token in vectorizer.get_vocabulary())


def load(data_cfg, seed):
  """Loads CSV files into text splits; carves validation if none is given.

  Args:
    data_cfg: config.DataConfig (data_dir, *_file, *_column, vocab_size,
      sequence_length, validation_share, num_*_classes).
    seed: seed of the validation carve-out.

  Returns:
    DataSpec with input_kind "text" (scalar strings) and the vocabulary.
  """
  columns, labels, tables = labelled.read_all(
      splits_lib.split_files(data_cfg, DEFAULT_FILES),
      lambda path: read_table(path, data_cfg), data_cfg.num_coarse_classes,
      data_cfg.num_fine_classes)
  rows = labelled.rows_with_validation(tables, labels,
                                       data_cfg.validation_share, seed)
  split_data = {split: spec_lib.split_from_arrays(texts.astype(str), coarse,
                                                  fine)
                for split, (texts, coarse, fine) in rows.items()}
  train_coarse, train_fine = labels["train"]
  return spec_lib.DataSpec(
      name="csv_text", input_shape=(), input_kind="text",
      coarse_names=columns["coarse"].names, fine_names=columns["fine"].names,
      splits=split_data,
      fine_to_coarse=labelled.fine_to_coarse(train_coarse, train_fine,
                                             len(columns["fine"].names)),
      vocabulary=adapted_vocabulary(rows["train"][0], data_cfg.vocab_size,
                                    data_cfg.sequence_length),
      sequence_length=data_cfg.sequence_length)
