"""The seeded validation carve-out shared by the array-backed data sources,
and where the file-based sources find their split files."""

import numpy as np

from research import config
from research.data import splits as splits_lib


def test_carved_validation_keeps_every_column_aligned_and_is_seeded():
  fine = np.arange(10)
  inputs = fine * 10  # each input names its own label
  arrays = {"train": (inputs, fine), "test": (inputs[:2], fine[:2])}
  carved = splits_lib.with_validation_carved(arrays, 0.3, seed=5)
  train_inputs, train_fine = carved["train"]
  validation_inputs, validation_fine = carved["validation"]
  assert (len(train_fine), len(validation_fine)) == (7, 3)
  np.testing.assert_array_equal(train_inputs, train_fine * 10)
  np.testing.assert_array_equal(validation_inputs, validation_fine * 10)
  assert sorted(np.concatenate([train_fine, validation_fine])) == list(range(10))
  assert carved["test"] is arrays["test"]
  again = splits_lib.with_validation_carved(arrays, 0.3, seed=5)
  np.testing.assert_array_equal(again["validation"][1], validation_fine)


def test_another_seed_carves_other_examples_of_the_same_share():
  train_a, held_a = splits_lib.carve_validation(100, 0.2, seed=0)
  train_b, held_b = splits_lib.carve_validation(100, 0.2, seed=1)
  assert len(held_a) == len(held_b) == 20
  assert not np.array_equal(held_a, held_b)
  for train, held in ((train_a, held_a), (train_b, held_b)):
    np.testing.assert_array_equal(np.union1d(train, held), np.arange(100))


def test_carved_share_rounds_to_the_nearest_count_and_leaves_one_to_train():
  # round(9 * 0.3) = 3, round(10 * 0.25) = 2 (to even); never all of train.
  for size, share, held in ((10, 0.25, 2), (7, 0.3, 2), (9, 0.3, 3),
                            (5, 0.01, 1), (3, 0.99, 2), (6, 0.0, 0)):
    assert len(splits_lib.carve_validation(size, share, seed=0)[1]) == held


def test_default_split_files_come_from_data_dir_not_the_working_directory(
    tmp_path, monkeypatch):
  data_dir, elsewhere = tmp_path / "data", tmp_path / "cwd"
  data_dir.mkdir()
  elsewhere.mkdir()
  for folder in (data_dir, elsewhere):
    (folder / "train.csv").write_text("text,coarse,fine\n")
  (elsewhere / "val.csv").write_text("text,coarse,fine\n")
  (elsewhere / "mine.csv").write_text("text,coarse,fine\n")
  monkeypatch.chdir(elsewhere)
  defaults = {"train": "train.csv", "validation": "val.csv",
              "test": "test.csv"}
  files = splits_lib.split_files(config.DataConfig(data_dir=str(data_dir)),
                             defaults)
  assert files == {"train": str(data_dir / "train.csv"), "validation": None,
                   "test": str(data_dir / "test.csv")}
  # A name given by flag is still found where the user stands.
  given = config.DataConfig(data_dir=str(data_dir), test_file="mine.csv")
  assert splits_lib.split_files(given, defaults)["test"] == "mine.csv"
