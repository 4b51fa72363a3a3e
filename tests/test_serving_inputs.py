"""predict and export for image, text and TFRecord inputs, on tiny runs
trained here on files in each source's real format (tests/data_files.py)."""

import csv
import io
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from research import config
from research import export
from research import predict
from research import prediction_inputs
from research import restore
from research import training
from research.data import problems
from research.data import registry
from research.data import tfrecord
from tests import data_files
from tests import helpers

HEADS = ("coarse", "fine")


def _train(folder, data, backbone="mlp"):
  cfg = config.Config().replace(
      data=data, model={"backbone": backbone, "width": 4, "dropout": 0.0},
      train={"epochs": 1, "batch_size": 8}, runtime={"verbose": 0})
  model_dir = str(folder / "run")
  training.run(cfg, model_dir)
  return model_dir


def _keras(model, inputs):
  """The test's reference: softmax of the Keras model's logits."""
  logits = model(inputs, training=False)
  return {head: helpers.numpy_softmax(logits[head]) for head in HEADS}


def _split_inputs(spec, split="test"):
  examples = spec.splits[split].examples.as_numpy_iterator()
  return np.stack([x for x, _ in examples])


def _predict(model_dir, path, output, **flag_values):
  """Runs research.predict; returns (ids, {head: probabilities [n, C]})."""
  helpers.run_main(predict.main, model_dir=model_dir, input=str(path),
            output=str(output), **flag_values)
  with open(output, newline="") as handle:
    rows = list(csv.DictReader(handle))
  names = {head: [c for c in rows[0] if c.startswith(f"{head}_p_")]
           for head in HEADS}
  return ([row["id"] for row in rows],
          {head: np.array([[float(r[c]) for c in names[head]] for r in rows])
           for head in HEADS})


def _served(model_dir, folder, **raw):
  """Exports `model_dir` and calls the reloaded SavedModel on `raw`."""
  export_dir = str(folder / "export")
  helpers.run_main(export.main, model_dir=model_dir, export_dir=export_dir)
  signature = tf.saved_model.load(export_dir).signatures["serving_default"]
  return {name: value.numpy() for name, value in signature(
      **{key: tf.constant(value) for key, value in raw.items()}).items()}


def _assert_served(outputs, expected, spec):
  names = {"coarse": spec.coarse_names, "fine": spec.fine_names}
  for head in HEADS:
    np.testing.assert_allclose(outputs[f"{head}_probabilities"],
                               expected[head], atol=1e-5)
    labels = expected[head].argmax(1)
    np.testing.assert_array_equal(outputs[f"{head}_label"], labels)
    assert [n.decode() for n in outputs[f"{head}_name"]] == [
        names[head][i] for i in labels]


def _assert_close(actual, expected):
  for head in HEADS:  # the CSV holds 6 decimals
    np.testing.assert_allclose(actual[head], expected[head], atol=1e-5)


def _png_bytes(pixels):
  """PNG of uint8 [h, w, c]; c == 1 as a grayscale (mode L) file."""
  buffer = io.BytesIO()
  Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(
      buffer, format="PNG")
  return buffer.getvalue()


@pytest.fixture(scope="module")
def label_file_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("label_file")
  rows = data_files.write_label_files(root / "data", {"train": 16, "test": 8})
  model_dir = _train(root, {"dataset": "label_file",
                            "data_dir": str(root / "data"), "image_size": 8})
  return model_dir, root / "data", rows


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("csv_text")
  data_files.write_csv(root / "train.csv", data_files.text_rows(16))
  data_files.write_csv(root / "test.csv", data_files.text_rows(8))
  return _train(root, {"dataset": "csv_text", "data_dir": str(root),
                       "validation_share": 0.25, "sequence_length": 6},
                backbone="text_cnn")


def test_label_file_list_decodes_exactly_as_training(label_file_run, tmp_path):
  model_dir, data, rows = label_file_run
  run = restore.restore(model_dir)
  expected = _keras(run.model, _split_inputs(run.spec))  # training's decode
  ids, actual = _predict(model_dir, data / "test.txt", tmp_path / "p.csv")
  assert ids == [path for path, _, _ in rows["test"]]
  _assert_close(actual, expected)
  listed = tmp_path / "list.txt"  # bare paths, relative to --data_dir
  listed.write_text("# photos\nimages/test_3.jpg\n\nimages/test_0.png\n")
  ids, actual = _predict(model_dir, listed, tmp_path / "q.csv",
                         data_dir=str(data))
  assert ids == ["images/test_3.jpg", "images/test_0.png"]
  _assert_close(actual, {h: expected[h][[3, 0]] for h in HEADS})


def test_image_files_and_folders(label_file_run, tmp_path):
  model_dir, data, _ = label_file_run
  run = restore.restore(model_dir)
  pixels = data_files.image_pixels(2, size=(8, 8), seed=5)  # the model's size
  data_files.write_image(str(tmp_path / "in" / "b" / "one.png"), pixels)
  data_files.write_image(str(tmp_path / "in" / "a.bmp"), pixels[::-1])
  (tmp_path / "in" / "notes.txt").write_text("not an image")
  # Independent decode: a PNG at the model's size is its pixels / 255.
  decoded = np.stack([pixels[::-1], pixels]).astype(np.float32) / 255
  ids, actual = _predict(model_dir, tmp_path / "in", tmp_path / "p.csv")
  assert ids == [str(tmp_path / "in" / "a.bmp"),
                 str(tmp_path / "in" / "b" / "one.png")]
  _assert_close(actual, _keras(run.model, decoded))
  ids, actual = _predict(model_dir, tmp_path / "in" / "b" / "one.png",
                         tmp_path / "q.csv")
  _assert_close(actual, _keras(run.model, decoded[1:]))


def test_image_export_takes_encoded_files(label_file_run, tmp_path):
  model_dir, data, rows = label_file_run
  run = restore.restore(model_dir)
  expected = _keras(run.model, _split_inputs(run.spec))
  encoded = [(data / path).read_bytes() for path, _, _ in rows["test"]]
  outputs = _served(model_dir, tmp_path, images=encoded)  # PNGs and JPEGs
  _assert_served(outputs, expected, run.spec)


@pytest.mark.parametrize("source", ["fashion_mnist", "cifar100"])
def test_array_sources_take_pixel_arrays_and_image_files(source, tmp_path):
  if source == "fashion_mnist":
    data_files.write_fashion_mnist(str(tmp_path / "data"))
  else:
    data_files.write_cifar100(str(tmp_path / "data"))
  model_dir = _train(tmp_path, {"dataset": source,
                                "data_dir": str(tmp_path / "data")})
  run = restore.restore(model_dir)
  inputs = _split_inputs(run.spec)[:6]  # [6, h, w, c] in [0, 1]
  pixels = np.round(inputs * 255).astype(np.uint8)
  np.testing.assert_array_equal(pixels.astype(np.float32) / 255, inputs)
  expected = _keras(run.model, inputs)
  stored = pixels[..., 0] if source == "fashion_mnist" else pixels
  np.save(tmp_path / "pixels.npy", stored)  # as the source stores them
  ids, actual = _predict(model_dir, tmp_path / "pixels.npy",
                         tmp_path / "p.csv")
  assert ids == [str(i) for i in range(6)]
  _assert_close(actual, expected)
  os.makedirs(tmp_path / "files")
  for i, image in enumerate(pixels):
    (tmp_path / "files" / f"{i}.png").write_bytes(_png_bytes(image))
  _, actual = _predict(model_dir, tmp_path / "files", tmp_path / "q.csv")
  _assert_close(actual, expected)
  outputs = _served(model_dir, tmp_path,
                    images=[_png_bytes(image) for image in pixels])
  _assert_served(outputs, expected, run.spec)


def test_tfrecord_image_run_predicts_records_and_serves_files(tmp_path):
  data_files.write_label_files(tmp_path / "src")
  source = registry.load(config.DataConfig(
      dataset="label_file", data_dir=str(tmp_path / "src"), image_size=6), 0)
  tfrecord.write(source, str(tmp_path / "records"), shards=1)
  model_dir = _train(tmp_path, {"dataset": "tfrecord",
                                "data_dir": str(tmp_path / "records")})
  run = restore.restore(model_dir)
  inputs = _split_inputs(run.spec)
  expected = _keras(run.model, inputs)
  ids, actual = _predict(model_dir,
                         tmp_path / "records" / "test-00000-of-00001.tfrecord",
                         tmp_path / "p.csv")
  assert ids == [str(i) for i in range(len(inputs))]
  _assert_close(actual, expected)
  pixels = np.round(inputs * 255).astype(np.uint8)
  outputs = _served(model_dir, tmp_path,
                    images=[_png_bytes(image) for image in pixels])
  _assert_served(outputs, expected, run.spec)


def test_text_csv_tfrecord_and_export(text_run, tmp_path):
  run = restore.restore(text_run)
  texts = [t.decode() for t in _split_inputs(run.spec)]
  expected = _keras(run.model, tf.constant(texts))
  data_files.write_csv(tmp_path / "in.csv",
                       [(f"doc{i}", "x", t) for i, t in enumerate(texts)],
                       header=("id", "other", "text"))
  ids, actual = _predict(text_run, tmp_path / "in.csv", tmp_path / "p.csv")
  assert ids == [f"doc{i}" for i in range(len(texts))]
  _assert_close(actual, expected)
  data_files.write_csv(tmp_path / "bare.csv", [(t,) for t in texts[:3]],
                       header=("text",))
  ids, actual = _predict(text_run, tmp_path / "bare.csv", tmp_path / "q.csv")
  assert ids == ["0", "1", "2"]
  _assert_close(actual, {h: expected[h][:3] for h in HEADS})
  tfrecord.write(run.spec, str(tmp_path / "records"), shards=1)
  _, actual = _predict(text_run,
                       tmp_path / "records" / "test-00000-of-00001.tfrecord",
                       tmp_path / "r.csv")
  _assert_close(actual, expected)
  _assert_served(_served(text_run, tmp_path, text=texts), expected, run.spec)


def _bad_inputs(folder, data):
  """name -> (path, expected message) of inputs predict must refuse."""
  (folder / "broken.png").write_bytes(b"\x89PNG but not really")
  (folder / "list.txt").write_text("images/test_0.png\nimages/nope.png\n")
  np.save(folder / "wide.npy", np.zeros((2, 9, 9, 3), np.uint8))
  data_files.write_csv(folder / "texts.csv", [("a",)], header=("body",))
  return {
      "undecodable": (folder / "broken.png", r"broken.png: image cannot be "
                      "decoded as JPEG/PNG/GIF/BMP"),
      "missing": (folder / "list.txt", r"list.txt:2: image not found: .*nope"),
      "shape": (folder / "wide.npy",
                r"wide.npy: images of shape \(2, 9, 9, 3\); expected "
                r"\[n, 8, 8, 3\]"),
      "csv_for_images": (folder / "texts.csv", r"texts.csv.*list file"),
      "absent": (folder / "absent", r"absent: no such file"),
  }


@pytest.mark.parametrize("case", ["undecodable", "missing", "shape",
                                  "csv_for_images", "absent"])
def test_bad_image_inputs_exit_naming_the_file(label_file_run, tmp_path,
                                               case):
  model_dir, data, _ = label_file_run
  path, message = _bad_inputs(tmp_path, data)[case]
  with pytest.raises(SystemExit, match=message):
    _predict(model_dir, path, tmp_path / "p.csv", data_dir=str(data))


def _file(path, content):
  path.write_bytes(content)
  return path


def _npy(path, array):
  np.save(path, array)
  return path


def _folder(path):
  path.mkdir()
  return path


def _example(**features):
  """A serialized tf.train.Example of bytes (str values: UTF-8) or int64
  features."""
  def feature(value):
    if isinstance(value, int):
      return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    if isinstance(value, str):
      value = value.encode()
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  return tf.train.Example(features=tf.train.Features(feature={
      name: feature(value) for name, value in features.items()
  })).SerializeToString()


def _records(path, records):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for record in records:
      writer.write(record)
  return path


TEXT_EXPECTED = ("feature 'text' holding one bytes value (UTF-8 text) "
                 "(feature spec in research/data/tfrecord.py)")
BAD_INPUTS = {
    # name -> (the run: text or image, input writer(folder), line, problem)
    "text_csv_without_its_column": (
        "text", lambda f: _file(f / "in.csv", b"body,id\na,b\n"), 1,
        "no text column 'text' in the header (columns: body, id); the run "
        "was trained on column 'text'"),
    "folder_of_texts": ("text", lambda f: f, None,
                        "a folder; text inputs come in one file"),
    "empty_text_csv": (
        "text", lambda f: _file(f / "in.csv", b""), None,
        "empty file; expected a CSV with a header row holding the run's text "
        "column 'text'"),
    "text_csv_of_a_header": ("text", lambda f: _file(f / "in.csv",
                                                     b"id,text\n"),
                             None, "no rows after the header"),
    "text_records_for_images": (
        "image", lambda f: _records(f / "in.tfrecord", [
            _example(text="a text", coarse=0, fine=0)]), 1,
        "no feature 'image' (the record has 'coarse', 'fine', 'text'); this "
        "run expects feature 'image' holding one PNG-encoded image of shape "
        "(8, 8, 3) (feature spec in research/data/tfrecord.py)"),
    "png_named_tfrecord": (
        "text", lambda f: _file(f / "in.tfrecord", _png_bytes(
            np.zeros((2, 2, 3), np.uint8))), 1,
        "unreadable record (corrupted record at 0 (Is this even a TFRecord "
        "file?))"),
    "tfrecord_shorter_than_a_header": (
        "text", lambda f: _file(f / "in.tfrecord", b"garbage\n"), None,
        "no records: its 8 bytes are fewer than one TFRecord record header "
        "(12); expected a TFRecord file"),
    "empty_tfrecord": ("text", lambda f: _file(f / "in.tfrecord", b""), None,
                       "no records (an empty file)"),
    "record_not_an_example": (
        "text", lambda f: _records(f / "in.tfrecord", [
            _example(text="a text"), b"\xff\xfe not a proto"]), 2,
        f"not a tf.train.Example; this run expects {TEXT_EXPECTED}"),
    "record_not_utf8": (
        "text", lambda f: _records(f / "in.tfrecord", [
            _example(text="a text"), _example(text="caf\xe9".encode(
                "latin-1"))]), 2,
        "text input cannot be parsed (Invalid formatting on input string); "
        f"this run expects {TEXT_EXPECTED}"),
    "empty_image_array": (
        "image", lambda f: _npy(f / "in.npy", np.zeros((0, 8, 8, 3),
                                                       np.uint8)), None,
        "no images (an array of shape (0, 8, 8, 3)); expected [n, 8, 8, 3] "
        "with n > 0"),
    "nan_image_array": (
        "image", lambda f: _npy(f / "in.npy", np.full((1, 8, 8, 3), np.nan,
                                                      np.float32)), None,
        "float images must be in [0, 1] (or give uint8 pixels)"),
    "empty_folder": ("image", lambda f: _folder(f / "in"), None,
                     "no image files (.jpg, .jpeg, .png, .gif, .bmp) in the "
                     "folder"),
    "list_of_no_paths": (
        "image", lambda f: _file(f / "in.txt", b"# no paths\n\n"), None,
        "no image paths listed (one per line, `path` or `path coarse "
        "fine`)"),
}


def _assert_exits_with(problem, model_dir, path, output):
  """predict exits with `problem` alone, in TF's words stripped of its
  internal names."""
  with pytest.raises(SystemExit) as exit_info:
    _predict(model_dir, path, output)
  assert exit_info.value.code == f"error: 1 data problem:\n{problem}"
  for internal in ("{{", "[Op:"):
    assert internal not in exit_info.value.code


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_exit_in_one_line_naming_the_file(text_run, label_file_run,
                                                     tmp_path, case):
  run, write, line, message = BAD_INPUTS[case]
  model_dir = text_run if run == "text" else label_file_run[0]
  path = write(tmp_path)
  _assert_exits_with(problems.Problem(str(path), line, message), model_dir,
                     path, tmp_path / "p.csv")


def test_a_truncated_record_is_named_as_the_checker_names_it(text_run,
                                                             tmp_path):
  texts = ["a cat", "a dog", "an oak"]
  path = _records(tmp_path / "in.tfrecord",
                  [_example(text=text) for text in texts])
  data = path.read_bytes()
  path.write_bytes(data[:-5])
  # A record is its length (8 bytes), their CRC (4), the Example, its CRC (4).
  last_start = len(data) - 16 - len(_example(text=texts[-1]))
  _assert_exits_with(problems.Problem(
      str(path), 3, f"unreadable record (truncated record at {last_start}' "
      "failed with Read less bytes than requested)"), text_run, path,
                     tmp_path / "p.csv")


def test_image_arrays_must_fit_the_model(tmp_path):
  spec = type("Spec", (), {"input_shape": (4, 4, 3), "input_kind": "image"})
  np.save(tmp_path / "gray.npy", np.zeros((2, 4, 4), np.uint8))
  with pytest.raises(ValueError, match=r"expected \[n, 4, 4, 3\]"):
    prediction_inputs.read_images(str(tmp_path / "gray.npy"), spec, None)
  np.save(tmp_path / "floats.npy", np.full((1, 4, 4, 3), 2.0, np.float32))
  with pytest.raises(ValueError, match=r"floats.npy: float images must be "
                     r"in \[0, 1\]"):
    prediction_inputs.read_images(str(tmp_path / "floats.npy"), spec, None)
