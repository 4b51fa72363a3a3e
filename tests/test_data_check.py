"""A corpus of malformed inputs: each gives the checker's exact messages.

Every case writes a small dataset in a source's real format with one defect
(or a few), loads it as training would, and compares the full list of
`file:line: message` problems. The checker entry point and the training entry
point are tested once each for their exit codes and output.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from research import config
from research.data import check
from research.data import problems
from research.data import registry
from research.data import tfrecord
from tests import data_files
from tests import helpers

CASES = {}
GOOD_LINES = ["a.png 0 0", "b.jpg 0 1", "c.png 1 2", "d.jpg 1 3"]
SPARE_IMAGES = ["e.png", "f.jpg"]


def case(function):
  CASES[function.__name__] = function
  return function


def write_images(root):
  for i, name in enumerate(["a.png", "b.jpg", "c.png", "d.jpg"] + SPARE_IMAGES):
    data_files.write_image(os.path.join(root, name),
                           data_files.image_pixels(i % 4))


def label_files(root, train_extra=(), test_lines=None, train=None):
  """Good images; train = GOOD_LINES + extra (lines 5...), test = GOOD_LINES."""
  write_images(root)
  files = {"train.txt": train or GOOD_LINES + list(train_extra),
           "test.txt": test_lines or GOOD_LINES}
  for name, lines in files.items():
    with open(os.path.join(root, name), "w", encoding="utf-8") as f:
      f.write("\n".join(lines) + "\n")
  return {"dataset": "label_file", "data_dir": root}


# ---- label_file
@case
def missing_image(root):
  return (label_files(root, ["nope.png 0 0"]),
          [f"{root}/train.txt:5: image not found: {root}/nope.png"])


@case
def undecodable_image(root):
  with open(os.path.join(root, "junk.jpg"), "wb") as f:
    f.write(b"this is not an image")
  return (label_files(root, ["junk.jpg 0 0"]),
          [f"{root}/train.txt:5: image cannot be decoded as JPEG/PNG/GIF/BMP: "
           f"{root}/junk.jpg"])


@case
def empty_image_file(root):
  open(os.path.join(root, "empty.png"), "wb").close()
  return (label_files(root, ["empty.png 0 0"]),
          [f"{root}/train.txt:5: image cannot be decoded as JPEG/PNG/GIF/BMP: "
           f"{root}/empty.png"])


@case
def truncated_png(root):
  cfg = label_files(root, ["cut.png 0 0"])
  with open(os.path.join(root, "a.png"), "rb") as f:
    head = f.read(40)
  with open(os.path.join(root, "cut.png"), "wb") as f:
    f.write(head)
  return cfg, [f"{root}/train.txt:5: image cannot be decoded as "
               f"JPEG/PNG/GIF/BMP: {root}/cut.png"]


@case
def two_fields(root):
  return (label_files(root, ["e.png 0"]),
          [f"{root}/train.txt:5: expected 3 fields (path coarse fine), found 2"])


@case
def four_fields(root):
  return (label_files(root, ["e.png 0 0 extra"]),
          [f"{root}/train.txt:5: expected 3 fields (path coarse fine), found 4"])


@case
def comma_line_with_two_fields(root):
  return (label_files(root, ["e.png,0"]),
          [f"{root}/train.txt:5: expected 3 fields (path coarse fine), found 2"])


@case
def fine_label_not_an_integer(root):
  return (label_files(root, ["e.png 0 x1"]),
          [f"{root}/train.txt:5: fine label 'x1' is not an integer"])


@case
def negative_coarse_label(root):
  return (label_files(root, ["e.png -2 0"]),
          [f"{root}/train.txt:5: coarse label -2 out of range [0, 2)"])


@case
def label_beyond_the_training_classes(root):
  return (label_files(root, test_lines=GOOD_LINES + ["e.png 1 5"]),
          [f"{root}/test.txt:5: fine label 5 out of range [0, 4); the training "
           "file's largest is 3, set --num_fine_classes if classes are missing "
           "there"])


@case
def label_beyond_declared_classes(root):
  cfg = label_files(root)
  cfg["num_fine_classes"] = 3
  return cfg, [f"{root}/test.txt:4: fine label 3 out of range [0, 3)",
               f"{root}/train.txt:4: fine label 3 out of range [0, 3)"]


@case
def unknown_class_name(root):
  train = ["a.png animal cat", "b.jpg animal dog", "c.png plant oak"]
  return (label_files(root, train=train,
                      test_lines=train[:2] + ["e.png animal zebra"]),
          [f"{root}/test.txt:3: fine label 'zebra' is not a class of the "
           "training file"])


@case
def duplicate_image(root):
  return (label_files(root, ["a.png 0 0"]),
          [f"{root}/train.txt:5: duplicate image (first at line 1)"])


@case
def fine_class_under_two_coarse_classes(root):
  return (label_files(root, ["e.png 1 0"]),
          [f"{root}/train.txt:5: fine class '0' under coarse class '1', but "
           "under '0' at line 1"])


@case
def missing_train_file(root):
  cfg = label_files(root)
  cfg["train_file"] = "absent.txt"
  return cfg, [f"{root}/absent.txt: train file not found (set --train_file or "
               "--data_dir)"]


@case
def missing_test_file(root):
  cfg = label_files(root)
  os.remove(os.path.join(root, "test.txt"))
  return cfg, [f"{root}/test.txt: test file not found (set --test_file or "
               "--data_dir)"]


@case
def every_problem_of_a_file_at_once(root):
  return (label_files(root, ["nope.png 0 0", "e.png 0", "f.jpg 0 y"]),
          [f"{root}/train.txt:5: image not found: {root}/nope.png",
           f"{root}/train.txt:6: expected 3 fields (path coarse fine), found 2",
           f"{root}/train.txt:7: fine label 'y' is not an integer"])


# ---- csv_text
def csv_files(root, train_rows, header=("text", "coarse", "fine")):
  data_files.write_csv(os.path.join(root, "train.csv"), train_rows, header)
  data_files.write_csv(os.path.join(root, "test.csv"), GOOD_TEXT)
  return {"dataset": "csv_text", "data_dir": root}


GOOD_TEXT = [("a cat", "0", "0"), ("a dog", "0", "1"), ("an oak", "1", "2")]


@case
def csv_missing_text_column(root):
  return (csv_files(root, GOOD_TEXT, header=("body", "coarse", "fine")),
          [f"{root}/train.csv:1: no text column 'text' in the header (columns:"
           " body, coarse, fine; set --text_column)"])


@case
def csv_wrong_field_count(root):
  return (csv_files(root, GOOD_TEXT + [("a rose", "1", "3", "extra")]),
          [f"{root}/train.csv:5: expected 3 fields (as the header), found 4"])


@case
def csv_empty_text(root):
  return (csv_files(root, GOOD_TEXT + [("", "1", "2")]),
          [f"{root}/train.csv:5: empty text"])


@case
def csv_blank_text(root):
  return (csv_files(root, GOOD_TEXT + [("   ", "1", "2")]),
          [f"{root}/train.csv:5: empty text"])


@case
def csv_duplicate_row(root):
  return (csv_files(root, GOOD_TEXT + [("a dog", "0", "1")]),
          [f"{root}/train.csv:5: duplicate row (first at line 3)"])


@case
def csv_line_numbers_count_quoted_newlines(root):
  return (csv_files(root, [("two\nlines", "0", "0"), ("", "0", "1"),
                           *GOOD_TEXT[1:]]),
          [f"{root}/train.csv:4: empty text"])


@case
def csv_unterminated_quote(root):
  cfg = csv_files(root, GOOD_TEXT)
  with open(os.path.join(root, "train.csv"), "a", encoding="utf-8") as f:
    f.write('"never closed,1,2\n')
  return cfg, [f"{root}/train.csv:5: unreadable CSV: unexpected end of data"]


@case
def csv_empty_file(root):
  cfg = csv_files(root, GOOD_TEXT)
  open(os.path.join(root, "train.csv"), "w").close()
  return cfg, [f"{root}/train.csv:1: empty file, expected a header row"]


@case
def csv_coarse_label_not_an_integer(root):
  return (csv_files(root, GOOD_TEXT + [("a rose", "one", "3")]),
          [f"{root}/train.csv:5: coarse label 'one' is not an integer"])


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
  source = registry.load(config.DataConfig(
      **label_files(label_files_root), image_size=4), seed=0)
  tfrecord.write(source, root, shards=1)
  mutate(root)
  return {"dataset": "tfrecord", "data_dir": root}


def _write_examples(path, examples):
  with tf.io.TFRecordWriter(path) as writer:
    for example in examples:
      writer.write(example.SerializeToString())


@case
def tfrecord_label_out_of_range(root):
  def mutate(folder):
    examples = [tfrecord._example("image", np.zeros((4, 4, 3), np.float32), 0,
                                  f) for f in (0, 1, 9)]
    _write_examples(os.path.join(folder, "test-00000-of-00001.tfrecord"),
                    examples)
    _fix_count(folder, "test", 3)
  return (records(os.path.join(root, "rec"), os.path.join(root, "src"), mutate),
          [f"{root}/rec/test-00000-of-00001.tfrecord:3: fine label 9 out of "
           "range [0, 4)"])


@case
def tfrecord_undecodable_image(root):
  def mutate(folder):
    good = tfrecord._example("image", np.zeros((4, 4, 3), np.float32), 0, 0)
    bad = tfrecord._example("text", b"not a png", 0, 0)
    bad.features.feature["image"].CopyFrom(bad.features.feature.pop("text"))
    _write_examples(os.path.join(folder, "test-00000-of-00001.tfrecord"),
                    [good, bad])
    _fix_count(folder, "test", 2)
  return (records(os.path.join(root, "rec"), os.path.join(root, "src"), mutate),
          [f"{root}/rec/test-00000-of-00001.tfrecord:2: image input cannot be "
           "parsed as (4, 4, 3) image"])


@case
def tfrecord_missing_shard(root):
  def mutate(folder):
    os.remove(os.path.join(folder, "test-00000-of-00001.tfrecord"))
  return (records(os.path.join(root, "rec"), os.path.join(root, "src"), mutate),
          [f"{root}/rec/test-00000-of-00001.tfrecord: shard not found"])


def _fix_count(folder, split, count):
  metadata = tfrecord.read_metadata(folder)
  metadata["splits"][split]["count"] = count
  data_files.write_json(os.path.join(folder, tfrecord.METADATA), metadata)


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_gives_exact_messages(name, tmp_path):
  fields, expected = CASES[name](str(tmp_path))
  with pytest.raises(problems.DataError) as error:
    registry.load(config.DataConfig(**fields), seed=0)
  assert [str(p) for p in error.value.problems] == expected
  assert str(error.value).splitlines()[1:] == expected


def test_corpus_is_large_enough():
  assert len(CASES) >= 20


def test_checker_exit_codes_and_output(tmp_path, capsys):
  fields, expected = missing_image(str(tmp_path))
  with pytest.raises(SystemExit) as exit_info:
    helpers.run_main(check.main, **fields)
  assert exit_info.value.code == 1
  assert capsys.readouterr().out.splitlines() == ["1 data problem:", *expected]
  os.remove(os.path.join(tmp_path, "train.txt"))
  label_files(str(tmp_path))
  helpers.run_main(check.main, **fields)
  assert capsys.readouterr().out.strip() == (
      "ok: label_file: train 3, validation 1, test 4 examples; 2 coarse, 4 "
      "fine classes")


@pytest.mark.slow
def test_training_refuses_bad_data_without_a_traceback(tmp_path):
  fields, expected = fine_label_not_an_integer(str(tmp_path))
  result = subprocess.run(
      [sys.executable, "-m", "research.train", "--dataset=label_file",
       f"--data_dir={fields['data_dir']}", f"--model_dir={tmp_path}/run"],
      capture_output=True, text=True, timeout=300, check=False,
      cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-2:] == ["1 data problem:",
                                                    *expected]
