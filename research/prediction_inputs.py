"""Readers of new inputs for `research.predict`, one per input kind.

A reader of an input kind is `read(path, spec, data_cfg) -> (ids, inputs)`
(`read_tfrecord(path, spec)` reads a TFRecord file of any kind): ids are strings
(row or record numbers from 0, or image paths), inputs are what the model takes
(float32 [n, *input_shape], or [n] strings for text). Inputs are decoded by the
functions training uses (`images.decode`, `tfrecord.input_parser`), so a file
gets the same model input in predict as in training. Bad input raises
`problems.DataError` naming the file (and line or record) and what was expected.
"""

import csv
import os

from google.protobuf import message as protobuf_message
import numpy as np
import tensorflow as tf

from research.data import images
from research.data import label_file
from research.data import problems as problems_lib
from research.data import tfrecord

TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords")
ID_COLUMN = "id"  # text CSVs: ids from this column when the header has it
BATCH = 256


def _fail(path, message, line=None):
  raise problems_lib.DataError([problems_lib.Problem(path, line, message)])


def read_features(path, spec, data_cfg):
  """Feature rows from a .npy array [n, d] or a CSV of numbers (header
  allowed)."""
  del data_cfg  # rows carry everything
  width = spec.input_shape[0]
  if path.lower().endswith(".npy"):
    features = _feature_array(path, spec.input_shape)
  elif path.lower().endswith(".csv"):
    features = _csv_numbers(path, width)
  else:
    _fail(path, f"expected a .npy or .csv file of feature rows of width {width}"
          " (or a .tfrecord file)")
  unfinished = np.flatnonzero(~np.isfinite(features).all(axis=1))
  if len(unfinished):
    _fail(path, f"row {unfinished[0]} (ids count from 0) holds nan or inf; "
          "expected finite numbers")
  return [str(i) for i in range(len(features))], features


def _feature_array(path, input_shape):
  features = _load_npy(path)
  if features.ndim != 2 or features.shape[1:] != tuple(input_shape):
    _fail(path, f"features of shape {features.shape}; expected [n, "
          f"{input_shape[0]}] rows for this model")
  if features.dtype.kind not in "biuf":  # bool, signed, unsigned, float
    _fail(path, f"features of dtype {features.dtype}; expected numbers "
          "(float or integer)")
  if not len(features):
    _fail(path, f"no feature rows (an array of shape {features.shape}); "
          f"expected [n, {input_shape[0]}] rows with n > 0")
  return features.astype(np.float32)


def _load_npy(path):
  try:
    return np.load(path, allow_pickle=False)
  except (OSError, ValueError) as error:
    _fail(path, f"not a readable .npy array ({error})")


def _csv_numbers(path, width):
  """[n, width] float32 of a CSV's rows; the first bad row is the problem."""
  try:
    with open(path, encoding="utf-8", newline="") as handle:
      reader = csv.reader(handle)
      rows = [(reader.line_num, row) for row in reader if row]
  except (UnicodeDecodeError, csv.Error) as error:
    _fail(path, f"not a readable CSV of numbers ({error})")
  if rows and not _is_number(rows[0][1][0]):
    rows = rows[1:]  # a header line
  if not rows:
    _fail(path, f"no rows of numbers; expected rows of {width} numbers (a "
          "header line allowed)")
  numbers = []
  for line, row in rows:
    if len(row) != width:
      _fail(path, f"expected {width} numbers (the model's feature width), "
            f"found {len(row)}", line=line)
    try:
      numbers.append([float(cell) for cell in row])
    except ValueError:
      _fail(path, f"expected only numbers, got {row}", line=line)
  return np.array(numbers, np.float32)


def _is_number(text):
  try:
    float(text)
  except ValueError:
    return False
  return True


def read_images(path, spec, data_cfg):
  """Images from an image file, a folder of them (recursively), a list file
  (label-file style: one path per line, optionally `path coarse fine`; paths
  relative to `data_cfg.data_dir`, default the list's folder) or a .npy array
  [n, h, w(, c)] of pixels (uint8 0..255 as the array sources, or float in
  [0, 1]). Files are decoded and resized by `images.decode`; ids = paths."""
  height, width, channels = spec.input_shape
  if os.path.isdir(path):
    ids, files, lines = _folder_images(path)
  elif path.lower().endswith(".npy"):
    return _image_array(path, spec.input_shape)
  elif path.lower().endswith(images.SUFFIXES):
    ids, files, lines = [path], [path], [None]
  else:
    ids, files, lines = _listed_images(path, data_cfg.data_dir)
  _check_images(path, files, lines)
  decoded = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
  decoded = decoded.map(
      lambda file: images.decode(tf.io.read_file(file), (height, width),
                                 channels),
      num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH)
  return ids, np.concatenate(list(decoded.as_numpy_iterator()))


def _folder_images(folder):
  files = sorted(os.path.join(root, name)
                 for root, _, names in os.walk(folder) for name in names
                 if name.lower().endswith(images.SUFFIXES))
  if not files:
    _fail(folder, f"no image files ({', '.join(images.SUFFIXES)}) in the "
          "folder")
  return files, files, [None] * len(files)


def _listed_images(path, data_dir):
  """(ids as written, file paths, line numbers) of a label-file-style list."""
  root = os.path.expanduser(data_dir or os.path.dirname(path))
  ids, lines = [], []
  try:
    with open(path, encoding="utf-8") as handle:
      for number, line in enumerate(handle, start=1):
        line = line.strip()
        if line and not line.startswith("#"):
          fields = label_file.fields_of(line)
          ids.append(fields[0] if len(fields) == 3 else line)
          lines.append(number)
  except UnicodeDecodeError:
    _fail(path, "not a text list of image paths; expected an image file "
          f"({', '.join(images.SUFFIXES)}), a folder, a .npy array, a "
          ".tfrecord file or a list file of image paths")
  if not ids:
    _fail(path, "no image paths listed (one per line, `path` or "
          "`path coarse fine`)")
  return ids, [os.path.join(root, image) for image in ids], lines


def _check_images(path, files, lines):
  """Every missing and undecodable image at once, by list line if listed."""
  def where(i):  # a listed image by its list line, else the file itself
    return (path, lines[i]) if lines[i] else (files[i], None)

  found = [problems_lib.Problem(*where(i), message)
           for i, message in images.unreadable(files)]
  # A list file none of whose images exists is likely no list of paths.
  if lines[0] and not any(map(os.path.isfile, files)):
    found.append(problems_lib.Problem(path, None, (
        "no listed image exists; expected an image file, a folder, a .npy "
        "array, a .tfrecord file or a list file of image paths (relative to "
        "--data_dir, default the list's folder)")))
  problems_lib.raise_if_any(found)


def _image_array(path, input_shape):
  pixels = _load_npy(path)
  if pixels.ndim == 3 and input_shape[-1] == 1:
    pixels = pixels[..., None]  # [n, h, w] grayscale as Fashion-MNIST stores it
  expected = f"[n, {', '.join(map(str, input_shape))}]"
  if pixels.shape[1:] != tuple(input_shape):
    _fail(path, f"images of shape {pixels.shape}; expected {expected} for "
          "this model")
  if not len(pixels):
    _fail(path, f"no images (an array of shape {pixels.shape}); expected "
          f"{expected} with n > 0")
  if pixels.dtype == np.uint8:
    inputs = pixels.astype(np.float32) / np.float32(255.0)  # as the loaders
  elif np.issubdtype(pixels.dtype, np.floating):
    inputs = pixels.astype(np.float32)
    if not np.all((inputs >= 0) & (inputs <= 1)):  # NaN too
      _fail(path, "float images must be in [0, 1] (or give uint8 pixels)")
  else:
    _fail(path, f"images of dtype {pixels.dtype}; expected uint8 0..255 or "
          "float in [0, 1]")
  return [str(i) for i in range(len(inputs))], inputs


def read_texts(path, spec, data_cfg):
  """Texts from a CSV with a header holding the run's text column; ids from
  an `id` column if there is one, else data row numbers from 0."""
  del spec  # the model takes the raw strings
  column = data_cfg.text_column
  texts, ids = [], []
  with open(path, encoding="utf-8", newline="") as handle:
    reader = csv.reader(handle, strict=True)
    try:
      header = next(reader, None)
      if header is None:
        _fail(path, "empty file; expected a CSV with a header row holding "
              f"the run's text column {column!r}")
      if column not in header:
        _fail(path, f"no text column {column!r} in the header (columns: "
              f"{', '.join(header) or 'none'}); the run was trained on "
              f"column {column!r}", line=1)
      for row in reader:
        if not row:
          continue
        if len(row) != len(header):
          _fail(path, f"expected {len(header)} fields (as the header), "
                f"found {len(row)}", line=reader.line_num)
        texts.append(row[header.index(column)])
        ids.append(row[header.index(ID_COLUMN)] if ID_COLUMN in header
                   else str(len(ids)))
    except csv.Error as error:
      _fail(path, f"unreadable CSV: {error}", line=reader.line_num)
    except UnicodeDecodeError:
      _fail(path, "not UTF-8 text; expected a CSV file with a header row")
  if not texts:
    _fail(path, "no rows after the header")
  return ids, np.array(texts, dtype=object)


def read_tfrecord(path, spec):
  """The inputs of a TFRecord file in the `research/data/tfrecord.py` feature
  spec (labels optional), parsed as training parses them; ids = record
  numbers from 0."""
  records = tf.data.TFRecordDataset(path)
  parse = tfrecord.input_parser(spec.input_kind, spec.input_shape)
  values = []
  try:
    for value in records.map(parse).as_numpy_iterator():
      values.append(value)
  except tf.errors.DataLossError as error:
    _fail(path, f"unreadable record ({tfrecord.error_reason(error)})",
          line=len(values) + 1)
  except tf.errors.InvalidArgumentError as error:
    _fail(path, _unparsed_input(records, len(values), spec,
                                tfrecord.error_reason(error)),
          line=len(values) + 1)
  except UnicodeDecodeError:  # TF's message quotes the record's bad bytes
    _fail(path, _unparsed_input(records, len(values), spec),
          line=len(values) + 1)
  if not values:
    _fail(path, _no_records(path))
  if spec.input_kind == "text":
    inputs = np.array([v.decode("utf-8") for v in values], dtype=object)
  else:
    inputs = np.stack(values).astype(np.float32)
  return [str(i) for i in range(len(values))], inputs


def _unparsed_input(records, index, spec, reason=None):
  """Why record `index` (from 0) gives no input for this run: not an
  Example, no feature of the run's input kind, or that feature malformed
  (as TF's `reason` says, when it could be read)."""
  kind = spec.input_kind
  expected = (f"feature {kind!r} holding "
              f"{tfrecord.expected_input(kind, tuple(spec.input_shape))} "
              "(feature spec in research/data/tfrecord.py)")
  record = next(iter(records.skip(index).take(1))).numpy()
  try:
    names = sorted(tf.train.Example.FromString(record).features.feature)
  except protobuf_message.DecodeError:
    return f"not a tf.train.Example; this run expects {expected}"
  if kind not in names:
    return (f"no feature {kind!r} (the record has "
            f"{', '.join(map(repr, names)) or 'no features'}); this run "
            f"expects {expected}")
  because = f" ({reason})" if reason else ""
  return f"{kind} input cannot be parsed{because}; this run expects {expected}"


def _no_records(path):
  size = os.path.getsize(path)
  if not size:
    return "no records (an empty file)"
  # TF's reader takes a file shorter than a record header for an empty one.
  return (f"no records: its {size} bytes are fewer than one TFRecord record "
          "header (12); expected a TFRecord file")
