"""Each data source end to end on tiny files in its real format, plus a run."""

import json
import math
import os

import numpy as np
import pytest
from PIL import Image

from research import config
from research import training
from research.data import cifar100
from research.data import fashion_mnist
from research.data import images
from research.data import pipeline
from research.data import problems
from research.data import registry
from research.data import tfrecord
from research.data import to_tfrecord
from tests import data_files
from tests import helpers


def data_cfg(**fields):
  return config.DataConfig(**fields)


def train_briefly(tmp_path, data, backbone="mlp", width=4):
  """One epoch at batch 8 through research.training.run; returns results."""
  cfg = config.Config().replace(
      data=data,
      model={"backbone": backbone, "width": width, "dropout": 0.0},
      train={"epochs": 1, "batch_size": 8}, runtime={"verbose": 0})
  model_dir = str(tmp_path / "run")
  results = training.run(cfg, model_dir)
  assert math.isfinite(results["test"]["loss"])
  with open(os.path.join(model_dir, "classes.json"), encoding="utf-8") as f:
    return results, json.load(f)


def split_arrays(split):
  inputs, coarse, fine = [], [], []
  for value, labels in split.examples.as_numpy_iterator():
    inputs.append(value)
    coarse.append(labels["coarse"])
    fine.append(labels["fine"])
  return np.array(inputs), np.array(coarse), np.array(fine)


def test_label_file_integer_labels_decode_and_train(tmp_path):
  rows = data_files.write_label_files(
      tmp_path, {"train": 16, "val": 4, "test": 8})
  spec = registry.load(data_cfg(dataset="label_file", data_dir=str(tmp_path),
                                image_size=8), seed=0)
  assert spec.input_shape == (8, 8, 3) and spec.input_kind == "image"
  assert spec.fine_names == ("0", "1", "2", "3")
  images, coarse, fine = split_arrays(spec.splits["train"])
  np.testing.assert_array_equal(fine, [r[2] for r in rows["train"]])
  np.testing.assert_array_equal(coarse, [r[1] for r in rows["train"]])
  for i in (0, 1):  # a PNG and a JPEG: mean colour survives decode + resize
    pixels = np.asarray(Image.open(tmp_path / rows["train"][i][0]), np.float64)
    np.testing.assert_allclose(images[i].mean(axis=(0, 1)),
                               pixels.mean(axis=(0, 1)) / 255, atol=0.03)
  np.testing.assert_array_equal(spec.fine_to_coarse, [0, 0, 1, 1])
  results, classes = train_briefly(
      tmp_path, {"dataset": "label_file", "data_dir": str(tmp_path),
                 "image_size": 8}, backbone="cnn")
  assert results["train_steps"] == 2  # 16 examples, batch 8
  assert classes["fine_names"] == ["0", "1", "2", "3"]


def test_label_file_names_commas_and_carved_validation(tmp_path):
  data_files.write_label_files(tmp_path, names=True, sep=", ")
  cfg = data_cfg(dataset="label_file", data_dir=str(tmp_path),
                 image_size=4, validation_share=0.25)
  spec = registry.load(cfg, seed=3)
  assert spec.coarse_names == ("animal", "plant")
  assert spec.fine_names == ("cat", "dog", "oak", "rose")  # sorted names
  sizes = {name: len(split) for name, split in spec.splits.items()}
  assert sizes == {"train": 12, "validation": 4, "test": 8}
  again = registry.load(cfg, seed=3)
  np.testing.assert_array_equal(split_arrays(spec.splits["validation"])[0],
                                split_arrays(again.splits["validation"])[0])
  _, classes = train_briefly(
      tmp_path, {"dataset": "label_file", "data_dir": str(tmp_path),
                 "image_size": 4})
  assert classes["coarse_names"] == ["animal", "plant"]
  assert classes["fine_to_coarse"] == [0, 0, 1, 1]


def test_csv_text_quoting_vocabulary_and_train(tmp_path):
  rows = data_files.text_rows(16)
  data_files.write_csv(tmp_path / "train.csv", rows)
  data_files.write_csv(tmp_path / "test.csv", data_files.text_rows(8))
  cfg = data_cfg(dataset="csv_text", data_dir=str(tmp_path),
                 validation_share=0.25, sequence_length=6)
  spec = registry.load(cfg, seed=0)
  assert spec.input_kind == "text" and spec.input_shape == ()
  texts = {t.decode() for t in split_arrays(spec.splits["test"])[0]}
  assert "an oak tree\nwith deep roots 2" in texts  # newline inside quotes
  assert 'a "loyal" dog barked 1' in texts  # doubled quotes
  assert spec.vocabulary[:2] == ("", "[UNK]")
  assert {"purring", "loyal", "roots"} <= set(spec.vocabulary)
  results, classes = train_briefly(
      tmp_path, {"dataset": "csv_text", "data_dir": str(tmp_path),
                 "validation_share": 0.25, "sequence_length": 6},
      backbone="text_cnn")
  assert results["train_steps"] == 2  # 16 - 4 carved = 12 examples
  assert classes["vocabulary"] == list(spec.vocabulary)


def test_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path):
  # Spreadsheet programs export "UTF-8 CSV" with a BOM before the header.
  for split, size in (("train", 8), ("test", 4)):
    path = tmp_path / f"{split}.csv"
    data_files.write_csv(path, data_files.text_rows(size))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
  spec = registry.load(data_cfg(dataset="csv_text", data_dir=str(tmp_path)),
                       seed=0)
  assert len(spec.splits["test"]) == 4


def test_tfrecord_round_trip_of_a_label_file_source(tmp_path):
  data_files.write_label_files(tmp_path / "src")
  source = registry.load(data_cfg(dataset="label_file",
                                  data_dir=str(tmp_path / "src"),
                                  image_size=6), seed=0)
  tfrecord.write(source, str(tmp_path / "records"), shards=3)
  assert len(list((tmp_path / "records").glob("train-*-of-00003.tfrecord"))) == 3
  loaded = registry.load(data_cfg(dataset="tfrecord",
                                  data_dir=str(tmp_path / "records")), seed=0)
  assert loaded.input_shape == (6, 6, 3)
  assert loaded.fine_names == source.fine_names
  for name in ("train", "validation", "test"):
    original = split_arrays(source.splits[name])
    read = split_arrays(loaded.splits[name])
    # Round-robin shards change the order; compare as sorted multisets.
    order_a, order_b = np.argsort(original[2], kind="stable"), np.argsort(
        read[2], kind="stable")
    np.testing.assert_array_equal(original[2][order_a], read[2][order_b])
    np.testing.assert_array_equal(loaded.splits[name].fine, read[2])
    assert abs(original[0].sum() - read[0].sum()) <= original[0].size / 255
  results, _ = train_briefly(
      tmp_path, {"dataset": "tfrecord", "data_dir": str(tmp_path / "records")})
  assert results["train_steps"] == 2  # 14 train examples after the carve


def test_tfrecord_text_round_trip(tmp_path):
  data_files.write_csv(tmp_path / "train.csv", data_files.text_rows(8))
  data_files.write_csv(tmp_path / "test.csv", data_files.text_rows(4))
  source = registry.load(data_cfg(dataset="csv_text", data_dir=str(tmp_path)),
                         seed=0)
  tfrecord.write(source, str(tmp_path / "records"), shards=1)
  loaded = registry.load(data_cfg(dataset="tfrecord",
                                  data_dir=str(tmp_path / "records")), seed=0)
  assert loaded.input_kind == "text"
  assert loaded.vocabulary == source.vocabulary
  np.testing.assert_array_equal(split_arrays(loaded.splits["test"])[0],
                                split_arrays(source.splits["test"])[0])


FASHION_PARENT = {"T-shirt/top": "tops", "Pullover": "tops", "Coat": "tops",
                  "Shirt": "tops", "Trouser": "bottoms and dresses",
                  "Dress": "bottoms and dresses", "Sandal": "footwear",
                  "Sneaker": "footwear", "Ankle boot": "footwear",
                  "Bag": "bags"}


def test_fashion_mnist_from_idx_files_and_train(tmp_path):
  data_files.write_fashion_mnist(tmp_path)
  spec = registry.load(data_cfg(dataset="fashion_mnist",
                                data_dir=str(tmp_path), validation_share=0.2),
                       seed=0)
  assert spec.input_shape == (28, 28, 1)
  assert {len(s) for s in spec.splits.values()} == {32, 8, 10}
  images, coarse, fine = split_arrays(spec.splits["test"])
  np.testing.assert_array_equal(fine, np.arange(10))
  for c, f in zip(coarse, fine):
    assert spec.coarse_names[c] == FASHION_PARENT[spec.fine_names[f]]
  assert images[3, 6, 0, 0] == 1.0 and images[3, 5, 0, 0] == 0.0  # band rows 6..11
  results, _ = train_briefly(
      tmp_path, {"dataset": "fashion_mnist", "data_dir": str(tmp_path)})
  assert results["train_steps"] == 5  # 36 examples after a 10% carve


def test_fashion_mnist_default_folders():
  assert fashion_mnist.DEFAULT_DIRS == ("/usr/share/datasets/fashion-mnist",
                                        "~/.keras/datasets/fashion-mnist")


def test_fashion_mnist_missing_files_says_where_it_looked(tmp_path,
                                                          monkeypatch):
  defaults = (str(tmp_path / "debian"), str(tmp_path / "keras"))
  monkeypatch.setattr(fashion_mnist, "DEFAULT_DIRS", defaults)
  with pytest.raises(problems.DataError) as error:
    fashion_mnist.find_dir("")
  message = str(error.value)
  for folder in defaults:
    assert folder in message
  assert "apt-get install dataset-fashion-mnist" in message


def test_fashion_mnist_given_data_dir_is_the_only_place_looked(tmp_path,
                                                               monkeypatch):
  installed = tmp_path / "debian"
  data_files.write_fashion_mnist(installed)
  monkeypatch.setattr(fashion_mnist, "DEFAULT_DIRS", (str(installed),))
  assert fashion_mnist.find_dir("") == str(installed)
  typo = tmp_path / "typo"
  typo.mkdir()
  data_files.write_fashion_mnist(typo)
  (typo / "t10k-labels-idx1-ubyte.gz").unlink()
  with pytest.raises(problems.DataError) as error:
    fashion_mnist.find_dir(str(typo))
  assert error.value.problems[0].path == str(typo)
  assert error.value.problems[0].message.startswith(
      "missing t10k-labels-idx1-ubyte.gz; --data_dir must hold the four "
      "Fashion-MNIST IDX files")


def test_cifar100_given_data_dir_is_the_only_place_looked(tmp_path,
                                                          monkeypatch):
  cache = tmp_path / "keras"
  data_files.write_cifar100(cache / "cifar-100-python")
  monkeypatch.setattr(cifar100, "DEFAULT_DIRS", (str(cache),))
  assert cifar100.find_dir("") == str(cache / "cifar-100-python")
  with pytest.raises(problems.DataError) as error:
    cifar100.find_dir(str(tmp_path / "typo"))
  message = str(error.value)
  assert "not found in --data_dir: looked in " in message
  assert str(cache) not in message


def test_cifar100_pickles_and_train(tmp_path):
  data_files.write_cifar100(tmp_path / "cifar-100-python")
  spec = registry.load(data_cfg(dataset="cifar100", data_dir=str(tmp_path)),
                       seed=0)
  assert spec.num_coarse == 20 and spec.num_fine == 100
  assert spec.fine_names[7] == "fine7"
  images, coarse, fine = split_arrays(spec.splits["test"])
  np.testing.assert_array_equal(fine, [(i * 7) % 100 for i in range(10)])
  np.testing.assert_array_equal(coarse, fine // 5)
  np.testing.assert_allclose(images[2] * 255, data_files.image_pixels(
      14, size=(32, 32), seed=101), atol=1e-3)  # planar rows -> HWC
  train_briefly(tmp_path, {"dataset": "cifar100", "data_dir": str(tmp_path)})


def test_cifar100_takes_the_fine_to_coarse_map_from_its_training_split(
    tmp_path):
  # 100 training rows hold every fine class; the 10 test rows do not.
  data_files.write_cifar100(tmp_path, train_size=100, test_size=10)
  spec = registry.load(data_cfg(dataset="cifar100", data_dir=str(tmp_path)),
                       seed=0)
  np.testing.assert_array_equal(spec.fine_to_coarse, np.arange(100) // 5)


def test_cifar100_refuses_a_pickle_that_would_run_code(tmp_path):
  data_files.write_cifar100(tmp_path)

  class Exploit:
    def __reduce__(self):
      return (eval, ("open('pwned', 'w')",))

  data_files.write_pickle(tmp_path / "train", {b"data": Exploit()})  # py2 names
  with pytest.raises(problems.DataError) as error:
    cifar100.load(data_cfg(data_dir=str(tmp_path)), seed=0)
  assert (f"{tmp_path}/train: refusing to unpickle __builtin__.eval: only builtin "
          "containers and numpy arrays are allowed in a dataset pickle"
          in str(error.value))
  assert not os.path.exists("pwned")


def test_augmentation_is_seeded_and_only_in_training(tmp_path):
  data_files.write_label_files(tmp_path)
  spec = registry.load(data_cfg(dataset="label_file", data_dir=str(tmp_path),
                                image_size=8, augment_crop_padding=2,
                                augment_flip=True, augment_brightness=0.2),
                       seed=0)
  split = spec.splits["train"]
  first = next(iter(pipeline.batched(split, 14, training=True, seed=5)))[0]
  again = next(iter(pipeline.batched(split, 14, training=True, seed=5)))[0]
  np.testing.assert_array_equal(first.numpy(), again.numpy())
  assert first.shape == (14, 8, 8, 3)  # 16 minus the carved validation
  assert 0.0 <= first.numpy().min() and first.numpy().max() <= 1.0
  plain = np.sort(split_arrays(split)[0].reshape(-1))
  assert not np.allclose(np.sort(first.numpy().reshape(-1)), plain)
  evaluation = next(iter(pipeline.batched(split, 14, training=False)))[0]
  np.testing.assert_array_equal(evaluation.numpy(), split_arrays(split)[0])



def test_augment_flags_are_for_images_only():
  augmenting = data_cfg(augment_flip=True, augment_crop_padding=4)
  images.check_augment(augmenting, "image")
  with pytest.raises(config.ConfigError, match=(
      "^--augment_crop_padding, --augment_flip need image inputs, but the "
      "dataset gives text inputs$")):
    images.check_augment(augmenting, "text")
  images.check_augment(data_cfg(), "features")  # all off: nothing to refuse


def _erased_pixels(seed, probability=1.0, side=28):
  """Boolean [side, side]: where `images.erased` changed a zero image."""
  image = np.zeros([side, side, 1], np.float32)
  out = images.erased(image, np.array([seed, 7], np.int64), probability)
  return out.numpy()[..., 0] != 0


def test_random_erasing_fills_one_rectangle_of_the_paper_size():
  for seed in range(200):
    changed = _erased_pixels(seed)
    rows, cols = np.nonzero(changed.any(1))[0], np.nonzero(changed.any(0))[0]
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert changed.sum() == height * width  # one filled rectangle
    # 2-40% of 784 pixels, sides rounded (7x2 is the smallest, 14 pixels);
    # the tallest draws are clipped to the image's 28 rows.
    assert 14 <= changed.sum() <= 0.4 * 784 + 28
    assert height == 28 or 0.3 * 0.6 <= height / width <= 3.3 / 0.6


def test_random_erasing_happens_at_its_probability():
  erased = [_erased_pixels(seed, probability=0.3).any() for seed in range(600)]
  assert abs(np.mean(erased) - 0.3) < 0.06  # 3 standard deviations: 0.056
  assert not any(_erased_pixels(seed, probability=0.0).any()
                 for seed in range(50))


def test_adding_erasing_keeps_the_flips_a_seed_gave():
  image = np.random.default_rng(0).random([8, 8, 1]).astype(np.float32)
  flip = images.augmenter(flip=True)
  flip_and_erase = images.augmenter(flip=True, erase=1.0)
  for seed in range(20):
    pair = np.array([seed, 1], np.int64)
    flipped = flip(image, pair).numpy()
    both = flip_and_erase(image, pair).numpy()
    np.testing.assert_array_equal(both, flip_and_erase(image, pair).numpy())
    kept = both == flipped
    assert 0 < kept.sum() < kept.size  # the rest is the erased rectangle


REAL_FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.slow
@pytest.mark.skipif(
    not os.path.isfile(os.path.join(REAL_FASHION, "train-labels-idx1-ubyte.gz")),
    reason=f"real Fashion-MNIST not in {REAL_FASHION}; install it with "
    "`apt-get install dataset-fashion-mnist` (.ci/run does)")
def test_real_fashion_mnist_learns_well_above_chance(tmp_path):
  cfg = config.Config().replace(
      data={"dataset": "fashion_mnist"},
      model={"backbone": "mlp", "width": 64, "dropout": 0.0},
      train={"epochs": 1, "batch_size": 256}, runtime={"verbose": 0})
  results = training.run(cfg, str(tmp_path / "run"))
  assert results["test"]["fine/accuracy"] > 0.7  # chance is 0.1
  assert results["test"]["coarse/accuracy"] > 0.85  # chance is about 0.4


def test_to_tfrecord_entry_point_converts_a_source(tmp_path, capsys):
  data_files.write_fashion_mnist(tmp_path / "idx")
  helpers.run_main(to_tfrecord.main, dataset="fashion_mnist",
                   data_dir=str(tmp_path / "idx"),
                   tfrecord_dir=str(tmp_path / "rec"), tfrecord_shards=2)
  assert capsys.readouterr().out.strip() == (
      f"wrote train 36, validation 4, test 10 examples to {tmp_path}/rec")
  spec = registry.load(data_cfg(dataset="tfrecord",
                                data_dir=str(tmp_path / "rec")), seed=0)
  assert spec.input_shape == (28, 28, 1)
  np.testing.assert_array_equal(spec.fine_to_coarse,
                                fashion_mnist.FINE_TO_COARSE)
  images, coarse, fine = split_arrays(spec.splits["test"])
  np.testing.assert_array_equal(np.sort(fine), np.arange(10))
  np.testing.assert_array_equal(coarse, fashion_mnist.FINE_TO_COARSE[fine])
