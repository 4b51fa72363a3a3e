"""`label_file`: one text file per split, `relative/path.jpg coarse fine` a line.

Fields are comma-separated when the line has a comma (paths may then hold
spaces), else whitespace-separated. Blank lines and lines starting with `#`
are skipped. Image paths are relative to `--data_dir` (default: the label
file's folder). Labels are integers or class names (see `classes`).
Every problem of every split is reported at once (`problems.DataError`).
"""

import io
import os

import tensorflow as tf

from research.data import images
from research.data import labelled
from research.data import problems as problems_lib
from research.data import spec as spec_lib
from research.data import splits as splits_lib

DEFAULT_FILES = {"train": "train.txt", "validation": "val.txt",
                 "test": "test.txt"}


def fields_of(line):
  """The fields of one line: comma-separated if it has a comma."""
  if "," in line:
    return [field.strip() for field in line.split(",")]
  return line.split()


def read_table(path, image_root):
  """Parses one label file into a Table of absolute image paths + problems."""
  table = labelled.Table(path)
  text, found = labelled.utf8_text(path)
  if text is None:
    return table, found
  lines = io.StringIO(text, newline=None)  # any line ending, as open() reads
  for number, line in enumerate(lines, start=1):
    line = line.strip()
    if not line or line.startswith("#"):
      continue
    fields = fields_of(line)
    if len(fields) != 3:
      found.append(problems_lib.Problem(
          path, number, f"expected 3 fields (path coarse fine), found "
          f"{len(fields)}"))
      continue
    image, coarse, fine = fields
    table.add(number, os.path.join(image_root, image), coarse, fine)
  return table, found


def image_problems(table):
  """Missing, undecodable and repeated images of a table."""
  found = problems_lib.duplicates(table.inputs, table.path, table.lines,
                                  what="image")
  return found + [problems_lib.Problem(table.path, table.lines[i], message)
                  for i, message in images.unreadable(table.inputs)]


def _read_table_with_images(data_cfg):
  def read(path):
    root = os.path.expanduser(data_cfg.data_dir or os.path.dirname(path))
    table, found = read_table(path, root)
    return table, found + image_problems(table)
  return read


def image_split(paths, coarse, fine, image_size, cache, augment):
  """A Split decoding (and optionally caching) the images at `paths`."""
  examples = tf.data.Dataset.from_tensor_slices(
      (tf.constant(list(paths), tf.string), {"coarse": coarse, "fine": fine}))
  examples = examples.map(
      lambda path, labels: (images.decode(tf.io.read_file(path), image_size),
                            labels),
      num_parallel_calls=tf.data.AUTOTUNE)
  if cache:
    examples = examples.cache()
  return spec_lib.Split(examples=examples, coarse=coarse, fine=fine,
                        augment=augment)


def load(data_cfg, seed):
  """Loads label files into image splits; carves validation if none is given.

  Args:
    data_cfg: config.DataConfig (data_dir, *_file, image_size, augment_*,
      cache_images, validation_share, num_*_classes).
    seed: seed of the validation carve-out.

  Returns:
    DataSpec with input_kind "image", input_shape (image_size, image_size, 3).
  """
  columns, labels, tables = labelled.read_all(
      splits_lib.split_files(data_cfg, DEFAULT_FILES),
      _read_table_with_images(data_cfg), data_cfg.num_coarse_classes,
      data_cfg.num_fine_classes)
  rows = labelled.rows_with_validation(tables, labels,
                                       data_cfg.validation_share, seed)
  augment = images.augmenter_for(data_cfg)
  split_data = {
      split: image_split(paths, coarse, fine, data_cfg.image_size,
                         data_cfg.cache_images,
                         augment if split == "train" else None)
      for split, (paths, coarse, fine) in rows.items()}
  train_coarse, train_fine = labels["train"]
  return spec_lib.DataSpec(
      name="label_file",
      input_shape=(data_cfg.image_size, data_cfg.image_size, images.CHANNELS),
      input_kind="image",
      coarse_names=columns["coarse"].names,
      fine_names=columns["fine"].names,
      splits=split_data,
      fine_to_coarse=labelled.fine_to_coarse(train_coarse, train_fine,
                                             len(columns["fine"].names)))
