"""experiments/: what may enter a table; bad run records and studies.

Reference numbers are numpy over the results.json files the tests write.
"""

import copy
import json
import os

import pytest

from experiments import study as study_lib
from experiments import sweep
from research import config
from research import flags as research_flags

STUDY_TEXT = '''
STUDY = {
    "description": "Adam against SGD.",
    "base": {"epochs": 2, "synthetic_train_size": 64},
    "grid": {"optimizer": ["adam", "sgd"]},
    "seeds": [0, 1, 2],
}
'''


def _study(folder, seeds="[0, 1, 2]"):
  path = os.path.join(folder, "opt.py")
  with open(path, "w") as handle:
    handle.write(STUDY_TEXT.replace("[0, 1, 2]", seeds))
  return path


def _write(path, payload):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as handle:
    if isinstance(payload, str):
      handle.write(payload)
    else:
      json.dump(payload, handle)


def _results(fine, rate):
  return {"test": {"fine/accuracy": fine, "fine/loss": 1.0},
          "wall_seconds": 3.0, "steps_per_second": rate}


def _finish(run, fine=0.5, rate=100.0, train_flags=None):
  """A finished run in run.model_dir as the runner and research.train leave
  it; `train_flags` (default: the run's own) made its config.json."""
  _write(os.path.join(run.model_dir, "results.json"), _results(fine, rate))
  _write(os.path.join(run.model_dir, "command.json"),
         {"train_flags": list(run.train_flags)})
  cfg = _config(train_flags or run.train_flags, run.model_dir)
  _write(os.path.join(run.model_dir, "config.json"), cfg.as_dict())


def _fresh_flags():
  """A copy of research.flags at its defaults."""
  flags = copy.deepcopy(research_flags.FLAGS)
  flags.unparse_flags()
  return flags


def _config(train_flags, model_dir):
  """The Config research.train builds from `train_flags`."""
  flags = _fresh_flags()
  flags(["train", *train_flags, f"--model_dir={model_dir}"])
  return config.from_flags(flags, research_flags.GROUPS)


@pytest.fixture
def planned(tmp_path):
  study = study_lib.load(_study(str(tmp_path)))
  runs_dir = str(tmp_path / "runs")
  return study, runs_dir, sweep.plan(study, runs_dir)


@pytest.mark.parametrize("seeds, message", [
    ("[0, 1, 0]", r"seeds \[0\] repeated"),
    ('"012"', r"seeds is '012'; expected a list of distinct integers"),
    ("3", r"seeds is 3; expected a list"),
    ("[]", r"seeds is \[\]; expected a list"),
    ("[1.5]", r"seed 1.5 is not an integer"),
    ("[True]", r"seed True is not an integer"),
    ('["a"]', r"seed 'a' is not an integer"),
    ("[-1]", r"seed -1 is outside 0\.\.\.4294967295"),
])
def test_bad_seeds_name_the_study_file(tmp_path, seeds, message):
  path = _study(str(tmp_path), seeds)
  with pytest.raises(ValueError, match=f"^{path}: {message}"):
    study_lib.load(path)


def test_research_train_refuses_a_seed_numpy_cannot_take():
  flags = _fresh_flags()
  with pytest.raises(Exception, match=r"--seed=-1: expected an integer in"):
    flags(["train", "--seed=-1"])
  flags.unparse_flags()
  flags(["train", f"--seed={research_flags.MAX_SEED}"])
