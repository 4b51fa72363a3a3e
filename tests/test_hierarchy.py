"""Hierarchy: counted from the training split, or read from a mapping file."""

import numpy as np
import pytest

from research.data import hierarchy
from research.data import spec as spec_lib
from tests import helpers

COARSE = ("animal", "plant")
FINE = ("cat", "dog", "fern", "moss", "bat")


def _spec(coarse, fine):
  features = np.zeros((len(fine), 2), np.float32)
  split = spec_lib.split_from_arrays(features, coarse, fine)
  return spec_lib.DataSpec(
      name="toy", input_shape=(2,), input_kind="features", coarse_names=COARSE,
      fine_names=FINE, splits={"train": split, "validation": split,
                               "test": split})


def test_counted_hierarchy_reports_fine_classes_under_several_coarse():
  # bat (4) appears under both coarse classes; moss (3) never appears;
  # a pair with a missing label (-1) counts for nothing.
  spec = _spec(coarse=[0, 0, 1, 0, 1, 1, -1],
               fine=[0, 1, 2, 4, 4, 2, 3])
  found = hierarchy.counted(spec)
  np.testing.assert_array_equal(found.counts, [[1, 1, 0, 0, 1],
                                               [0, 0, 2, 0, 1]])
  np.testing.assert_array_equal(found.mask, found.counts > 0)
  assert not found.strict
  assert found.fine_under_several_coarse == 1
  assert found.fine_without_coarse == 1
  assert "not strict; 1 fine classes under more than one" in found.report()


def test_counted_hierarchy_of_a_tree_is_strict():
  spec = helpers.tiny_spec(size=64)
  found = hierarchy.counted(spec)
  assert found.strict
  parents = np.argmax(found.mask, axis=0)
  np.testing.assert_array_equal(parents, spec.fine_to_coarse)


def test_mapping_file_takes_names_indices_and_comments(tmp_path):
  path = tmp_path / "map.txt"
  path.write_text("# coarse fine\n\nanimal cat\n0 dog  # index\n"
                  "plant fern\nplant 3\nanimal bat\nplant bat\n")
  found = hierarchy.for_task(_spec([0], [0]), str(path))
  np.testing.assert_array_equal(found.mask, [[1, 1, 0, 0, 1],
                                             [0, 0, 1, 1, 1]])
  assert found.source == str(path)
  assert found.fine_under_several_coarse == 1
  record = found.as_dict(COARSE, FINE)
  assert record["strict"] is False and "counts" not in record


def test_mapping_file_takes_names_with_spaces(tmp_path):
  path = tmp_path / "map.txt"
  path.write_text("tops Shirt\nbottoms and dresses Dress\n"
                  "footwear Ankle boot\n2 Sandal\n")
  found = hierarchy.from_file(
      str(path), ("tops", "bottoms and dresses", "footwear"),
      ("Shirt", "Dress", "Ankle boot", "Sandal"))
  np.testing.assert_array_equal(found.mask, [[1, 0, 0, 0], [0, 1, 0, 0],
                                             [0, 0, 1, 1]])


def test_a_line_that_splits_into_two_pairs_of_names_is_refused(tmp_path):
  path = tmp_path / "map.txt"
  path.write_text("a b c\n")
  with pytest.raises(ValueError, match=r":1: .* splits into several pair"):
    hierarchy.from_file(str(path), ("a", "a b"), ("b c", "c"))


@pytest.mark.parametrize("text, message", [
    ("animal cat\nplant fern moss\n", ":2: expected '<coarse> <fine>', got "
     "'plant fern moss', which splits into no pair"),
    ("animal\n", ":1: expected '<coarse> <fine>', got 'animal'"),
    ("animal cat\n\nfungus moss\n", ":3: unknown coarse class 'fungus'"),
    ("animal 7\n", ":1: unknown fine class '7'"),
    ("animal cat\nanimal dog\nplant fern\n",
     "under no coarse class: moss, bat"),
])
def test_bad_mapping_file_names_the_file_and_line(tmp_path, text, message):
  path = tmp_path / "map.txt"
  path.write_text(text)
  with pytest.raises(ValueError, match=message) as error:
    hierarchy.from_file(str(path), COARSE, FINE)
  assert str(path) in str(error.value)
