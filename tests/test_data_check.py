"""A corpus of malformed inputs: each gives the checker's exact messages.

Every case (tests/malformed_text_sources.py, tests/malformed_binary_sources.py)
writes a small dataset in a source's real format with one defect (or a few),
loads it as training would, and compares the full list of `file:line: message`
problems. The checker entry point and the training entry point are tested once
each for their exit codes and output.
"""

import os
import subprocess
import sys

import pytest

from research import config
from research.data import check
from research.data import problems
from research.data import registry
from tests import helpers
from tests import malformed_binary_sources
from tests import malformed_text_sources

CASES = {**malformed_text_sources.CASES, **malformed_binary_sources.CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_gives_exact_messages(name, tmp_path):
  fields, expected = CASES[name](str(tmp_path))
  with pytest.raises(problems.DataError) as error:
    registry.load(config.DataConfig(**fields), seed=0)
  assert [str(p) for p in error.value.problems] == expected
  assert str(error.value).splitlines()[1:] == expected


def test_corpus_is_large_enough():
  assert len(CASES) >= 20
  assert not (malformed_text_sources.CASES.keys() &
              malformed_binary_sources.CASES.keys())  # none hides another


def test_checker_exit_codes_and_output(tmp_path, capsys):
  fields, expected = malformed_text_sources.missing_image(str(tmp_path))
  with pytest.raises(SystemExit) as exit_info:
    helpers.run_main(check.main, **fields)
  assert exit_info.value.code == 1
  assert capsys.readouterr().out.splitlines() == ["1 data problem:", *expected]
  os.remove(os.path.join(tmp_path, "train.txt"))
  malformed_text_sources.label_files(str(tmp_path))
  helpers.run_main(check.main, **fields)
  assert capsys.readouterr().out.strip() == (
      "ok: label_file: train 3, validation 1, test 4 examples; 2 coarse, 4 "
      "fine classes")


@pytest.mark.slow
def test_training_refuses_bad_data_without_a_traceback(tmp_path):
  fields, expected = malformed_text_sources.fine_label_not_an_integer(
      str(tmp_path))
  result = subprocess.run(
      [sys.executable, "-m", "research.train", "--dataset=label_file",
       f"--data_dir={fields['data_dir']}", f"--model_dir={tmp_path}/run"],
      capture_output=True, text=True, timeout=300, check=False,
      cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-2:] == ["1 data problem:",
                                                    *expected]
