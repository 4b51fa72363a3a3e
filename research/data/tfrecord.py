"""`tfrecord`: sharded TFRecord files written from any source, and their reader.

Folder layout (`--data_dir`): `dataset.json` plus `{split}-NNNNN-of-MMMMM.tfrecord`
shards for train, test and optionally validation (carved from train if absent).

Feature spec of one `tf.train.Example`:
  coarse    int64 [1]   coarse label index, -1 = missing
  fine      int64 [1]   fine label index, -1 = missing
  and the input, by `dataset.json`'s input_kind:
  image     bytes [1]   PNG-encoded uint8 [height, width, channels]
  text      bytes [1]   UTF-8 text
  features  float [d]   flattened dense features of input_shape

`dataset.json`: input_kind, input_shape, coarse_names, fine_names,
fine_to_coarse (list or null), and per split its shard names and count.
"""

import json
import os
import re

import numpy as np
import tensorflow as tf

from research import summaries
from research.data import csv_text
from research.data import images
from research.data import problems as problems_lib
from research.data import spec as spec_lib
from research.data import splits as splits_lib

METADATA = "dataset.json"
LABELS = {"coarse": tf.io.FixedLenFeature([1], tf.int64),
          "fine": tf.io.FixedLenFeature([1], tf.int64)}
READ_BATCH = 4096  # records per step: a Python step per record takes seconds


def input_feature(kind, input_shape):
  """The parse spec of the input feature for `kind`."""
  if kind == "features":
    return {"features": tf.io.FixedLenFeature([int(np.prod(input_shape))],
                                              tf.float32)}
  return {kind: tf.io.FixedLenFeature([1], tf.string)}


def _example(kind, value, coarse, fine):
  if kind == "features":
    feature = tf.train.Feature(
        float_list=tf.train.FloatList(value=np.ravel(value)))
  elif kind == "image":
    pixels = tf.cast(tf.round(value * 255.0), tf.uint8)
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[tf.io.encode_png(pixels).numpy()]))
  else:
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
  labels = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
            for name, v in (("coarse", coarse), ("fine", fine))}
  return tf.train.Example(features=tf.train.Features(
      feature={kind: feature, **labels}))


def write(spec, output_dir, shards=4):
  """Writes every split of `spec` as `shards` TFRecord files + dataset.json.

  Args:
    spec: a loaded DataSpec (its splits' examples, before augmentation).
    output_dir: folder to write into (created).
    shards: files per split; examples go round-robin.

  Returns:
    The metadata dict written to dataset.json.
  """
  os.makedirs(output_dir, exist_ok=True)
  metadata = {
      "input_kind": spec.input_kind, "input_shape": list(spec.input_shape),
      "coarse_names": list(spec.coarse_names),
      "fine_names": list(spec.fine_names),
      "fine_to_coarse": (None if spec.fine_to_coarse is None
                         else [int(p) for p in spec.fine_to_coarse]),
      "splits": {}}
  for split_name, split in spec.splits.items():
    names = [f"{split_name}-{i:05d}-of-{shards:05d}.tfrecord"
             for i in range(shards)]
    writers = [tf.io.TFRecordWriter(os.path.join(output_dir, n)) for n in names]
    for i, (value, labels) in enumerate(split.examples.as_numpy_iterator()):
      example = _example(spec.input_kind, value, int(labels["coarse"]),
                         int(labels["fine"]))
      writers[i % shards].write(example.SerializeToString())
    for writer in writers:
      writer.close()
    metadata["splits"][split_name] = {"files": names, "count": len(split)}
  with open(os.path.join(output_dir, METADATA), "w", encoding="utf-8") as f:
    json.dump(metadata, f, indent=2)
  return metadata


def read_metadata(data_dir):
  """dataset.json of a TFRecord folder; DataError if absent or unreadable."""
  path = os.path.join(os.path.expanduser(data_dir or "."), METADATA)
  try:
    return summaries.read_json(path)
  except (OSError, ValueError) as error:
    raise problems_lib.DataError([problems_lib.Problem(
        path, None, f"cannot read the TFRecord metadata ({error}); write the "
        "folder with `python -m research.data.to_tfrecord`")]) from None


def _decode_input(kind, input_shape, example):
  if kind == "image":
    image = tf.io.decode_png(example["image"][0], channels=input_shape[-1])
    image = tf.ensure_shape(image, input_shape)  # [h, w, c] uint8
    return tf.cast(image, tf.float32) / 255.0
  if kind == "text":
    # An identity on UTF-8 that fails on other bytes, so the checker finds
    # them before the vocabulary is adapted on the texts.
    return tf.strings.unicode_transcode(example["text"][0], "UTF-8", "UTF-8",
                                        errors="strict")
  return tf.reshape(example["features"], input_shape)


def input_parser(kind, input_shape):
  """record -> input alone, decoded as `parser` does; labels may be absent."""
  features = input_feature(kind, input_shape)

  def parse(record):
    example = tf.io.parse_single_example(record, features)
    return _decode_input(kind, input_shape, example)

  return parse


def parser(kind, input_shape):
  """record -> (input, {"coarse", "fine"}) following the feature spec."""
  features = {**LABELS, **input_feature(kind, input_shape)}

  def parse(record):
    example = tf.io.parse_single_example(record, features)
    labels = {n: tf.cast(example[n][0], tf.int32) for n in LABELS}
    return _decode_input(kind, input_shape, example), labels

  return parse


def expected_input(kind, input_shape):
  """What a record's input feature must hold, for messages."""
  if kind == "image":
    return f"one PNG-encoded image of shape {input_shape}"
  if kind == "text":
    return "one bytes value (UTF-8 text)"
  return f"{int(np.prod(input_shape))} floats (input shape {input_shape})"


def error_reason(error):
  """The first line of a TF error's message, without TF's internal
  `{{function_node ...}}` prefix, the `Error in user-defined function ...`
  wrapper of a failed `map` and the `[Op:...]` suffix."""
  line = error.message.splitlines()[0]
  line = re.sub(r"^\{\{[^}]*\}\}\s*", "", line)
  line = re.sub(r"^Error in user-defined function passed to \S+ "
                r"transformation with iterator: \S+: ", "", line)
  return re.sub(r"\s*\[Op:.*$", "", line)


def _record_count(records):
  return int(records.batch(READ_BATCH).reduce(
      np.int64(0), lambda n, batch: n + tf.size(batch, tf.int64)))


def _readable_count(records, path):
  """(records before the first unreadable one, its Problem or None).

  A truncated or corrupted record ends the reading of a shard: TF's reader
  stops there, with or without ignore_errors.
  """
  try:
    return _record_count(records), None
  except tf.errors.DataLossError as error:
    count = _record_count(records.ignore_errors())
    return count, problems_lib.Problem(
        path, count + 1, "unreadable record, the shard is not read past it "
        f"({error_reason(error)})")


def _parsed(records, parse):
  """A Dataset of (record index from 0, parse(record)) of the records `parse`
  reads; those it cannot parse are left out."""
  return records.enumerate().map(
      lambda i, record: (i, parse(record)),
      num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()


def _labels_of_parsed(records, parse):
  """(record indices from 0, coarse, fine) of the records `parse` (training's
  parser) reads whole, input included."""
  # The input is dropped only after ignore_errors, so it is still decoded.
  batches = _parsed(records, parse).map(
      lambda i, example: (i, example[1])).batch(READ_BATCH)
  indices, coarse, fine = [np.zeros(0, np.int64)], [], []
  for batch_indices, labels in batches.as_numpy_iterator():
    indices.append(batch_indices)
    coarse.append(labels["coarse"])
    fine.append(labels["fine"])
  return (np.concatenate(indices),
          *(np.concatenate(parts or [np.zeros(0, np.int32)])
            for parts in (coarse, fine)))


def _unparsed_problems(records, path, failed, kind, input_shape):
  """A Problem per record index in `failed` (records training's parser cannot
  read): the input if it does not parse alone, else the labels."""
  parsed_inputs = _parsed(records, input_parser(kind, input_shape)).map(
      lambda i, value: i).batch(READ_BATCH)
  good_input = set(np.concatenate(
      [np.zeros(0, np.int64), *parsed_inputs.as_numpy_iterator()]).tolist())
  labels_expected = ("labels cannot be parsed: expected int64 features "
                     "'coarse' and 'fine' of one value each")
  input_expected = (f"{kind} input cannot be parsed: expected "
                    f"{expected_input(kind, input_shape)}")
  return [problems_lib.Problem(
      path, int(i) + 1, labels_expected if i in good_input else input_expected)
          for i in failed]


def read_shard(path, kind, input_shape, num_classes):
  """(coarse [n], fine [n], problems) of one shard; lines are record numbers.

  Every record is parsed as training parses it (labels and input); each one
  that does not parse, or has a label out of range, is a problem.

  Args:
    path: shard file.
    kind, input_shape: from dataset.json.
    num_classes: {"coarse": n, "fine": n}.
  """
  records = tf.data.TFRecordDataset(path)
  count, unreadable = _readable_count(records, path)
  found = [] if unreadable is None else [unreadable]
  indices, coarse, fine = _labels_of_parsed(records, parser(kind, input_shape))
  failed = np.setdiff1d(np.arange(count), indices)
  if len(failed):
    found += _unparsed_problems(records, path, failed, kind, input_shape)
  for name, values in (("coarse", coarse), ("fine", fine)):
    for i in np.flatnonzero((values < -1) | (values >= num_classes[name])):
      found.append(problems_lib.Problem(
          path, int(indices[i]) + 1, f"{name} label {values[i]} out of range "
          f"[0, {num_classes[name]})"))
  return coarse, fine, sorted(found, key=lambda problem: problem.line)


def _pairs_off_the_hierarchy(path, coarse, fine, metadata):
  """Problems of a shard's records whose fine class is under another coarse
  class than dataset.json's fine_to_coarse says (without that map, than
  earlier in the shard), as a label file with such a pair is refused."""
  names = metadata["coarse_names"], metadata["fine_names"]
  records = np.arange(1, len(fine) + 1)
  if metadata.get("fine_to_coarse") is None:
    return problems_lib.fine_under_two_coarse(coarse, fine, path, records,
                                              *names)
  parents = np.asarray(metadata["fine_to_coarse"])
  known = (coarse >= 0) & (fine >= 0)
  off = known & (parents[np.maximum(fine, 0)] >= 0) & (
      coarse != parents[np.maximum(fine, 0)])
  return [problems_lib.Problem(
      path, int(records[i]),
      f"fine class {names[1][fine[i]]!r} under coarse class "
      f"{names[0][coarse[i]]!r}, but under {names[0][parents[fine[i]]]!r} in "
      f"{METADATA}'s fine_to_coarse") for i in np.flatnonzero(off)]


def _read_split(data_dir, entry, metadata):
  kind, shape = metadata["input_kind"], tuple(metadata["input_shape"])
  num_classes = {"coarse": len(metadata["coarse_names"]),
                 "fine": len(metadata["fine_names"])}
  paths = [os.path.join(data_dir, n) for n in entry["files"]]
  coarse, fine, found = [], [], []
  for path in paths:
    if not os.path.isfile(path):
      found.append(problems_lib.Problem(path, None, "shard not found"))
      continue
    shard_coarse, shard_fine, shard_problems = read_shard(path, kind, shape,
                                                          num_classes)
    coarse.append(shard_coarse)
    fine.append(shard_fine)
    found += shard_problems or _pairs_off_the_hierarchy(
        path, shard_coarse, shard_fine, metadata)
  coarse = np.concatenate(coarse or [np.zeros(0, np.int32)])
  fine = np.concatenate(fine or [np.zeros(0, np.int32)])
  if not found and len(fine) != entry["count"]:
    found.append(problems_lib.Problem(
        os.path.join(data_dir, METADATA), None,
        f"{entry['count']} examples listed, {len(fine)} in the shards"))
  return paths, coarse, fine, found


def _splits(data_dir, metadata, data_cfg, seed):
  """split -> Split of the folder's shards, every problem raised at once;
  validation carved from train when absent, train augmented for images."""
  kind, shape = metadata["input_kind"], tuple(metadata["input_shape"])
  read, found = {}, []
  for split, entry in metadata["splits"].items():
    *read[split], split_problems = _read_split(data_dir, entry, metadata)
    found += split_problems
  problems_lib.raise_if_any(found)
  splits = {}
  for split, (paths, coarse, fine) in read.items():
    examples = tf.data.TFRecordDataset(paths).map(
        parser(kind, shape), num_parallel_calls=tf.data.AUTOTUNE)
    if data_cfg.cache_images:
      examples = examples.cache()
    splits[split] = spec_lib.Split(examples, coarse, fine)
  if "validation" not in splits:
    splits["train"], splits["validation"] = _carved(
        splits["train"], data_cfg.validation_share, seed)
  if kind == "image":
    splits["train"] = spec_lib.Split(splits["train"].examples,
                                     splits["train"].coarse,
                                     splits["train"].fine,
                                     images.augmenter_for(data_cfg))
  return splits


def _text_options(train, data_cfg):
  """The DataSpec's vocabulary (adapted on the training texts) and length."""
  texts = [t.decode() for t, _ in train.examples.as_numpy_iterator()]
  return {"vocabulary": csv_text.adapted_vocabulary(
      texts, data_cfg.vocab_size, data_cfg.sequence_length),
          "sequence_length": data_cfg.sequence_length}


def load(data_cfg, seed):
  """Reads a folder written by `write`; carves validation if it has none.

  Args:
    data_cfg: config.DataConfig (data_dir, validation_share, augment_*,
      cache_images, vocab_size, sequence_length).
    seed: seed of the validation carve-out.

  Returns:
    DataSpec as described by dataset.json.
  """
  data_dir = os.path.expanduser(data_cfg.data_dir or ".")
  metadata = read_metadata(data_dir)
  kind, shape = metadata["input_kind"], tuple(metadata["input_shape"])
  splits = _splits(data_dir, metadata, data_cfg, seed)
  text = _text_options(splits["train"], data_cfg) if kind == "text" else {}
  parents = metadata.get("fine_to_coarse")
  return spec_lib.DataSpec(
      name="tfrecord", input_shape=shape, input_kind=kind,
      coarse_names=tuple(metadata["coarse_names"]),
      fine_names=tuple(metadata["fine_names"]),
      splits=splits_lib.ordered(splits),
      fine_to_coarse=None if parents is None else np.asarray(parents, np.int32),
      **text)


def _carved(train, share, seed):
  """(train, validation) Splits: a seeded share of train's examples held out."""
  keep, held = splits_lib.carve_validation(len(train), share, seed)
  held_mask = np.zeros(len(train), bool)
  held_mask[held] = True
  tagged = tf.data.Dataset.zip(
      train.examples, tf.data.Dataset.from_tensor_slices(held_mask))

  def examples(held_out):
    return tagged.filter(
        lambda example, is_held: tf.equal(is_held, held_out)).map(
            lambda example, is_held: example)

  return (spec_lib.Split(examples(False), train.coarse[keep], train.fine[keep]),
          spec_lib.Split(examples(True), train.coarse[held], train.fine[held]))
