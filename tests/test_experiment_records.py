"""experiments/: what may enter a table; bad run records and studies.

Reference numbers are numpy over the results.json files the tests write.
"""

import copy
import csv
import glob
import json
import os
import re

from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

from experiments import readme_tables
from experiments import run as run_lib
from experiments import study as study_lib
from experiments import sweep
from experiments import table
from research import config
from research import flags as research_flags
from research import training
from tests import helpers

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


def test_finished_runs_of_the_study_are_reused(planned):
  _, _, runs = planned
  for run in runs:
    _finish(run)
  assert all(sweep.is_done(run) for run in runs)


def test_a_finished_run_made_by_hand_is_refused_not_tabled(planned):
  # e.g. a table's command run by hand with other flags into the runs folder:
  # it has results.json and config.json but no command.json.
  _, _, runs = planned
  _finish(runs[0])
  os.remove(os.path.join(runs[0].model_dir, "command.json"))
  with pytest.raises(ValueError, match=(
      f"^{runs[0].model_dir} holds a finished run but no command.json")):
    sweep.is_done(runs[0])


def test_a_run_whose_config_is_not_the_cells_is_refused(planned):
  _, _, runs = planned
  other = [f for f in runs[0].train_flags if not f.startswith("--epochs")]
  _finish(runs[0], train_flags=[*other, "--epochs=1"])
  with pytest.raises(ValueError, match=(
      r"config.json records a run that differs from the study's "
      r"\(--epochs: 1 recorded, 2 now\); delete")):
    sweep.is_done(runs[0])


def test_a_corrupt_config_json_is_named_with_what_to_do(planned):
  _, _, runs = planned
  _finish(runs[0])
  path = os.path.join(runs[0].model_dir, "config.json")
  _write(path, '{"train": {"epochs"')
  with pytest.raises(ValueError, match=(
      f"^{re.escape(path)} is not a run's config.json .*; delete "
      f"{re.escape(runs[0].model_dir)}")):
    sweep.is_done(runs[0])


@pytest.mark.parametrize("record", ["results.json", "command.json"])
def test_a_corrupt_run_record_is_named(planned, record):
  study, runs_dir, runs = planned
  for run in runs:
    _finish(run)
  path = os.path.join(runs[1].model_dir, record)
  _write(path, '{"test": {"fine/accu')
  with pytest.raises(ValueError, match=f"^{path} is not valid JSON"):
    sweep.execute(runs, launch=lambda run: 0, report=lambda line: None)
    table.rows(study, runs_dir)


def test_results_without_test_metrics_are_named(planned):
  study, runs_dir, runs = planned
  _write(os.path.join(runs[0].model_dir, "results.json"), {"epochs": 2})
  with pytest.raises(ValueError, match="results.json holds no test metrics"):
    table.rows(study, runs_dir)


def test_a_seed_without_steps_per_second_leaves_the_others_in_the_table(
    planned):
  # A run killed after its last checkpoint and finished by a process that
  # trained no step records steps_per_second null.
  study, runs_dir, runs = planned
  rates = {0: 100.0, 1: None, 2: 130.0}
  for run in runs:
    _finish(run, fine=0.4 + 0.1 * run.seed, rate=rates[run.seed])
  _, rows = table.rows(study, runs_dir)
  mean, std, count = rows[0]["timing"]["steps_per_second"]
  assert (mean, std, count) == pytest.approx(
      (np.mean([100.0, 130.0]), np.std([100.0, 130.0], ddof=1), 2))
  text = table.markdown(study, runs_dir, "cmd")
  fine = np.array([0.4, 0.5, 0.6])
  assert (f"| adam | 3/3 | {fine.mean():.4f} ± {fine.std(ddof=1):.4f} | 3.0 "
          f"± 0.0 | {mean:.1f} ± {std:.1f} (n=2) |") in text
  assert "(n=k): the mean of the k seeds that recorded that value" in text
  assert "test metrics of the final epoch's weights" in text
  with open(table.write(study, runs_dir, runs_dir, "cmd")[1]) as handle:
    csv_row = next(csv.DictReader(handle))
  assert float(csv_row["steps_per_second_mean"]) == pytest.approx(115.0)
  assert (csv_row["steps_per_second_n"], csv_row["fine/accuracy_n"]) == (
      "2", "3")


def test_table_commands_name_the_runs_folder_they_describe(planned):
  study, runs_dir, _ = planned
  text = table.markdown(study, runs_dir, "cmd")
  assert f"--model_dir={runs_dir}/opt/optimizer-adam/seed$SEED`" in text
  committed = os.path.join(sweep.REPO_ROOT, "experiments", "runs")
  assert ("--model_dir=experiments/runs/opt/optimizer-adam/seed$SEED`"
          in table.markdown(study, committed, "cmd"))


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


class _Launcher:
  """Writes results.json (and command.json is the runner's) unless the run is
  in `failing`, whose launch exits 1 as a crashed research.train does."""

  def __init__(self, failing=()):
    self.failing = failing

  def __call__(self, run):
    if run.seed in self.failing:
      return 1
    _write(os.path.join(run.model_dir, "results.json"),
           _results(0.5 + 0.1 * run.seed, 50.0))
    return 0


@pytest.fixture
def runner(tmp_path, monkeypatch):
  monkeypatch.setattr(run_lib, "RUNS_DIR", str(tmp_path / "runs"))
  monkeypatch.setattr(run_lib, "RESULTS_DIR", str(tmp_path / "results"))
  helpers.parsed_flags()
  return _study(str(tmp_path))


def test_failed_runs_leave_the_committed_table_as_it_was(
    tmp_path, runner, monkeypatch, capsys):
  committed = tmp_path / "results" / "opt"
  committed.mkdir(parents=True)
  (committed / "table.md").write_text("committed table\n")
  monkeypatch.setattr(sweep, "launch_subprocess", _Launcher(failing=(2,)))
  with pytest.raises(SystemExit) as stop:
    run_lib.main(["run", runner])
  assert str(stop.value.code).startswith("error: 2 runs failed")
  assert f"committed table in {committed} was left as it was" in str(
      stop.value.code)
  assert (committed / "table.md").read_text() == "committed table\n"
  assert not (committed / "table.csv").exists()
  assert "table:" not in capsys.readouterr().out


def test_failed_runs_of_a_trial_still_write_its_partial_table(
    tmp_path, runner, monkeypatch):
  trial = str(tmp_path / "trial")
  monkeypatch.setattr(sweep, "launch_subprocess", _Launcher(failing=(2,)))
  with flagsaver.as_parsed(results_dir=trial):
    with pytest.raises(SystemExit, match="^error: 2 runs failed"):
      run_lib.main(["run", runner])
  with open(os.path.join(trial, "opt", "table.md")) as handle:
    assert "| adam | 2/3 |" in handle.read()


def test_runner_refuses_a_foreign_run_with_one_line(tmp_path, runner,
                                                    monkeypatch):
  monkeypatch.setattr(sweep, "launch_subprocess", _Launcher())
  run_lib.main(["run", runner])
  folder = tmp_path / "runs" / "opt" / "optimizer-sgd" / "seed1"
  (folder / "command.json").unlink()
  with pytest.raises(SystemExit) as stop:
    run_lib.main(["run", runner])
  assert stop.value.code.startswith(
      f"error: {folder} holds a finished run but no command.json")


def test_a_relative_results_dir_is_where_the_runs_land(tmp_path, runner,
                                                        monkeypatch):
  # The training processes run from the repository root, so a --results_dir
  # relative to the runner's folder must reach them as an absolute path.
  launched = []
  monkeypatch.setattr(sweep, "launch_subprocess",
                      lambda run: launched.append(run.model_dir) or 0)
  monkeypatch.chdir(tmp_path)
  with flagsaver.as_parsed(results_dir="trial"):
    run_lib.main(["run", runner])
  assert launched[0] == str(tmp_path / "trial" / "runs" / "opt" /
                            "optimizer-adam" / "seed0")


def _scalars(folder):
  """{tag: {step: value}} of the TensorBoard scalars in `folder`."""
  found = {}
  for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        found.setdefault(value.tag, {})[event.step] = float(
            tf.make_ndarray(value.tensor))
  return found


def test_tensorboard_scalars_are_the_results_of_the_same_weights(tmp_path):
  # README: the last validation/ point (step epochs - 1) and the test/ point
  # (step epochs) come from the final weights, as results.json does.
  cfg = config.Config().replace(
      data={"synthetic_train_size": 64, "synthetic_feature_dim": 4},
      model={"width": 4}, train={"epochs": 2, "batch_size": 32},
      runtime={"verbose": 0})
  model_dir = str(tmp_path / "run")
  training.run(cfg, model_dir)
  with open(os.path.join(model_dir, "results.json")) as handle:
    results = json.load(handle)
  validation = _scalars(os.path.join(model_dir, "validation"))
  test = _scalars(os.path.join(model_dir, "test"))
  assert set(validation) == set(results["validation"])
  assert {tag: steps[1] for tag, steps in validation.items()} == (
      pytest.approx(results["validation"], abs=1e-6))
  assert {tag: steps for tag, steps in test.items()} == {
      tag: {2: pytest.approx(value, abs=1e-6)}
      for tag, value in results["test"].items()}
  train = _scalars(os.path.join(model_dir, "train"))
  assert all(sorted(train[tag]) == [0, 1] for tag in results["validation"])


@pytest.mark.parametrize("table_text, message", [
    (None, r"README names the table .*heads/table.md, which does not exist"),
    ("# Study\n\nno table yet\n", r".*heads/table.md holds no markdown table"),
])
def test_readme_tables_stop_before_touching_readme(tmp_path, table_text,
                                                   message):
  readme = ("intro\n<!-- table: heads/table.md -->\n| 1 |\n"
            "<!-- end table -->\n")
  (tmp_path / "README.md").write_text(readme)
  if table_text is not None:
    (tmp_path / "heads").mkdir()
    (tmp_path / "heads" / "table.md").write_text(table_text)
  with pytest.raises(SystemExit, match=f"^error: {message}"):
    readme_tables.main(str(tmp_path))
  assert (tmp_path / "README.md").read_text() == readme


def test_results_dir_naming_the_committed_folder_does_not_bypass_it(
    tmp_path, runner, monkeypatch):
  monkeypatch.setattr(sweep, "launch_subprocess", _Launcher())
  committed = tmp_path / "results" / "opt"
  committed.mkdir(parents=True)
  (committed / "table.md").write_text("committed table\n")
  with flagsaver.as_parsed(epochs="3", results_dir=str(tmp_path / "results")):
    with pytest.raises(SystemExit, match=(
        r"^error: this run changes the study \(--epochs\); --results_dir=.*"
        r"results is the committed folder; give another$")):
      run_lib.main(["run", runner])
  assert (committed / "table.md").read_text() == "committed table\n"
  assert not (tmp_path / "results" / "runs").exists()


def test_a_study_file_named_like_a_shipped_study_keeps_off_its_table(
    tmp_path, monkeypatch):
  monkeypatch.setattr(run_lib, "RUNS_DIR", str(tmp_path / "runs"))
  monkeypatch.setattr(run_lib, "RESULTS_DIR", str(tmp_path / "results"))
  monkeypatch.setattr(sweep, "launch_subprocess", _Launcher())
  helpers.parsed_flags()
  folder = tmp_path / "mine"
  folder.mkdir()
  path = str(folder / "heads.py")  # not experiments/studies/heads.py
  with open(path, "w") as handle:
    handle.write(STUDY_TEXT)
  with pytest.raises(SystemExit, match=(
      f"^error: {path} is not the shipped study heads but has its name; "
      "give --results_dir")):
    run_lib.main(["run", path])
  assert not (tmp_path / "results").exists()
  assert not (tmp_path / "runs").exists()
  with flagsaver.as_parsed(results_dir=str(tmp_path / "trial")):
    run_lib.main(["run", path])
  assert (tmp_path / "trial" / "heads" / "table.md").is_file()
  assert study_lib.shadows_shipped(study_lib.load("heads")) is False
