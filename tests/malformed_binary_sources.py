"""Malformed fashion_mnist (IDX), cifar100 (pickle) and tfrecord sources, each
with the checker's exact messages (run by tests/test_data_check.py).

Cases follow tests/malformed_text_sources.py: (data config fields, expected
`file:line: message`s).
"""

import os

import numpy as np
import tensorflow as tf

from research import config
from research.data import registry
from research.data import spec as spec_lib
from research.data import tfrecord
from tests import data_files
from tests import malformed_text_sources

CASES = {}
case = data_files.registrar(CASES)


# ---- fashion_mnist (IDX)
def fashion(root, stem="train", kind="labels", data=None):
  data_files.write_fashion_mnist(root)
  if data is not None:
    name = f"{stem}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz"
    data_files.write_gzip(os.path.join(root, name), data)
  return {"dataset": "fashion_mnist", "data_dir": root}


@case
def idx_bad_magic(root):
  data = data_files.idx_bytes(np.zeros((4, 28), np.uint8))
  return (fashion(root, "t10k", "images", data),
          [f"{root}/t10k-images-idx3-ubyte.gz: bad IDX magic number 0x00000802 "
           "(expected 0x00000803: unsigned bytes, 3 dimensions)"])


@case
def idx_truncated_data(root):
  data = data_files.idx_bytes(np.zeros(40, np.uint8))[:-3]
  return (fashion(root, "train", "labels", data),
          [f"{root}/train-labels-idx1-ubyte.gz: header says 40 data bytes "
           "(shape 40), file has 37"])


@case
def idx_not_gzip(root):
  cfg = fashion(root)
  with open(os.path.join(root, "train-labels-idx1-ubyte.gz"), "wb") as f:
    f.write(b"not gzip")
  return cfg, [f"{root}/train-labels-idx1-ubyte.gz: not a readable gzip file "
               "(Not a gzipped file (b'no'))"]


@case
def idx_label_count_mismatch(root):
  data = data_files.idx_bytes(np.zeros(39, np.uint8))
  return (fashion(root, "train", "labels", data),
          [f"{root}/train-labels-idx1-ubyte.gz: 39 labels for 40 images in "
           f"{root}/train-images-idx3-ubyte.gz"])


@case
def idx_label_out_of_range(root):
  labels = np.arange(10, dtype=np.uint8)
  labels[6] = 10
  return (fashion(root, "t10k", "labels", data_files.idx_bytes(labels)),
          [f"{root}/t10k-labels-idx1-ubyte.gz:7: fine label 10 out of range "
           "[0, 10)"])


# ---- cifar100 (pickles)
def cifar(root, train=None):
  data_files.write_cifar100(root)
  if train is not None:
    data_files.write_pickle(os.path.join(root, "train"), train)
  return {"dataset": "cifar100", "data_dir": root}


@case
def cifar_fine_label_out_of_range(root):
  batch = data_files.cifar_batch(5)
  batch[b"fine_labels"][3] = 100
  return (cifar(root, batch),
          [f"{root}/train:4: fine_labels 100 out of range [0, 100)"])


@case
def cifar_missing_labels(root):
  batch = data_files.cifar_batch(5)
  del batch[b"coarse_labels"]
  return (cifar(root, batch),
          [f"{root}/train: not a CIFAR-100 batch: no coarse_labels"])


class _RunsCommand:
  def __reduce__(self):
    return (os.system, ("echo pwned",))


@case
def cifar_pickle_that_runs_a_command(root):
  return (cifar(root, {b"data": _RunsCommand()}),
          [f"{root}/train: refusing to unpickle posix.system: only builtin "
           "containers and numpy arrays are allowed in a dataset pickle"])


# ---- tfrecord
def records(root, label_files_root, mutate):
  """TFRecords written from a good label_file source, then `mutate(dir)`."""
  fields = malformed_text_sources.label_files(label_files_root)
  source = registry.load(config.DataConfig(**fields, image_size=4), seed=0)
  tfrecord.write(source, root, shards=1)
  mutate(root)
  return {"dataset": "tfrecord", "data_dir": root}


def _replace_test_shard(folder, examples):
  """Writes `examples` as the only test shard and lists their count."""
  path = os.path.join(folder, "test-00000-of-00001.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    for example in examples:
      writer.write(example.SerializeToString())
  metadata = tfrecord.read_metadata(folder)
  metadata["splits"]["test"]["count"] = len(examples)
  data_files.write_json(os.path.join(folder, tfrecord.METADATA), metadata)


@case
def tfrecord_label_out_of_range(root):
  def mutate(folder):
    _replace_test_shard(folder, [
        tfrecord._example("image", np.zeros((4, 4, 3), np.float32), 0, f)
        for f in (0, 1, 9)])
  return (records(os.path.join(root, "rec"), os.path.join(root, "src"), mutate),
          [f"{root}/rec/test-00000-of-00001.tfrecord:3: fine label 9 out of "
           "range [0, 4)"])


@case
def tfrecord_fine_class_under_another_coarse_class(root):
  def mutate(folder):
    _replace_test_shard(folder, [
        tfrecord._example("image", np.zeros((4, 4, 3), np.float32), c, f)
        for c, f in ((0, 0), (1, 1), (1, 2))])
  return (records(os.path.join(root, "rec"), os.path.join(root, "src"), mutate),
          [f"{root}/rec/test-00000-of-00001.tfrecord:2: fine class '1' under "
           "coarse class '1', but under '0' in dataset.json's "
           "fine_to_coarse"])


@case
def tfrecord_undecodable_image(root):
  def mutate(folder):
    good = tfrecord._example("image", np.zeros((4, 4, 3), np.float32), 0, 0)
    bad = tfrecord._example("text", b"not a png", 0, 0)
    bad.features.feature["image"].CopyFrom(bad.features.feature.pop("text"))
    _replace_test_shard(folder, [good, bad])
  return (records(os.path.join(root, "rec"), os.path.join(root, "src"), mutate),
          [f"{root}/rec/test-00000-of-00001.tfrecord:2: image input cannot be "
           "parsed: expected one PNG-encoded image of shape (4, 4, 3)"])


@case
def tfrecord_missing_shard(root):
  def mutate(folder):
    os.remove(os.path.join(folder, "test-00000-of-00001.tfrecord"))
  return (records(os.path.join(root, "rec"), os.path.join(root, "src"), mutate),
          [f"{root}/rec/test-00000-of-00001.tfrecord: shard not found"])


def feature_records(root, test_examples):
  """A TFRecord folder of 3-float inputs whose test shard is `test_examples`."""
  split = spec_lib.split_from_arrays(np.ones((4, 3), np.float32), [0, 0, 1, 1],
                                     [0, 1, 2, 3])
  spec = spec_lib.DataSpec(
      name="features", input_shape=(3,), input_kind="features",
      coarse_names=("a", "b"), fine_names=("p", "q", "r", "s"),
      splits={"train": split, "validation": split, "test": split})
  tfrecord.write(spec, root, shards=1)
  _replace_test_shard(root, test_examples)
  return {"dataset": "tfrecord", "data_dir": root}


def _features_example(count=3):
  return tfrecord._example("features", np.ones(count, np.float32), 0, 0)


@case
def tfrecord_unparseable_features(root):
  examples = [_features_example(2 if i == 2 else 3) for i in range(4)]
  return (feature_records(root, examples),
          [f"{root}/test-00000-of-00001.tfrecord:3: features input cannot be "
           "parsed: expected 3 floats (input shape (3,))"])


@case
def tfrecord_record_without_labels(root):
  examples = [_features_example() for _ in range(6)]
  del examples[4].features.feature["fine"]
  return (feature_records(root, examples),
          [f"{root}/test-00000-of-00001.tfrecord:5: labels cannot be parsed: "
           "expected int64 features 'coarse' and 'fine' of one value each"])


@case
def tfrecord_truncated_shard(root):
  fields = feature_records(root, [_features_example() for _ in range(5)])
  path = os.path.join(root, "test-00000-of-00001.tfrecord")
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[:-10])
  last_record_start = len(data) // 5 * 4  # the records are of one size
  return (fields,
          [f"{path}:5: unreadable record, the shard is not read past it "
           f"(truncated record at {last_record_start}' failed with Read less "
           "bytes than requested)"])


@case
def tfrecord_text_not_utf8(root):
  texts = np.array([b"a cat", b"a dog", b"an oak", b"a rose"])
  split = spec_lib.split_from_arrays(texts, [0, 0, 1, 1], [0, 1, 2, 3])
  spec = spec_lib.DataSpec(
      name="text", input_shape=(), input_kind="text",
      coarse_names=("a", "b"), fine_names=("p", "q", "r", "s"),
      splits={"train": split, "validation": split, "test": split})
  tfrecord.write(spec, root, shards=1)
  _replace_test_shard(root, [tfrecord._example("text", text, 0, 0)
                             for text in (b"a cat", "un caf\xe9".encode(
                                 "latin-1"))])
  return ({"dataset": "tfrecord", "data_dir": root},
          [f"{root}/test-00000-of-00001.tfrecord:2: text input cannot be "
           "parsed: expected one bytes value (UTF-8 text)"])


@case
def tfrecord_fine_class_under_two_coarse_classes_without_a_map(root):
  examples = [tfrecord._example("features", np.ones(3, np.float32), c, 0)
              for c in (0, 0, 1)]
  fields = feature_records(root, examples)
  assert tfrecord.read_metadata(root)["fine_to_coarse"] is None
  return (fields,
          [f"{root}/test-00000-of-00001.tfrecord:3: fine class 'p' under "
           "coarse class 'b', but under 'a' at line 1"])
