"""experiments/: study checks, tables from results.json, resumable sweeps."""

import csv
import json
import os
import re
import statistics

from absl.testing import flagsaver
import pytest

from experiments import committed
from experiments import run as run_lib
from experiments import study as study_lib
from experiments import sweep
from experiments import table
from research import flags as research_flags
from tests import helpers

STUDY_TEXT = '''
STUDY = {
    "description": "Adam against SGD.",
    "base": {"epochs": 2, "synthetic_train_size": 64},
    "grid": {"optimizer": ["adam", "sgd"]},
    "seeds": [0, 1],
}
'''


def _study_file(folder, text=STUDY_TEXT, name="opt"):
  path = os.path.join(folder, f"{name}.py")
  with open(path, "w") as handle:
    handle.write(text)
  return path


def _write_results(runs_dir, cell, seed, fine, coarse, exact, wall, rate,
                   code_version=None):
  folder = os.path.join(runs_dir, "opt", cell, f"seed{seed}")
  os.makedirs(folder, exist_ok=True)
  results = {"test": {"fine/accuracy": fine, "coarse/accuracy": coarse,
                      "joint/exact_match": exact, "fine/loss": 9.0,
                      "loss": 9.0},
             # As in a run's results.json; the table must not read it.
             "validation": {"fine/accuracy": 0.01, "coarse/accuracy": 0.02,
                            "joint/exact_match": 0.03, "loss": 8.0},
             "wall_seconds": wall, "steps_per_second": rate}
  if code_version:
    results["code_version"] = code_version
  with open(os.path.join(folder, "results.json"), "w") as handle:
    json.dump(results, handle)


def test_table_is_regenerated_from_fixture_results(tmp_path):
  study = study_lib.load(_study_file(str(tmp_path)))
  runs_dir = str(tmp_path / "runs")
  _write_results(runs_dir, "optimizer-adam", 0, 0.5, 0.8, 0.4, 10.0, 100.0,
                 {"commit": "a" * 40, "modified": False})
  _write_results(runs_dir, "optimizer-adam", 1, 0.7, 0.9, 0.6, 12.0, 110.0,
                 {"commit": "b" * 40, "modified": True})
  _write_results(runs_dir, "optimizer-sgd", 1, 0.3, 0.6, 0.2, 11.0, 90.0)
  sd = lambda *v: statistics.stdev(v)  # pylint: disable=unnecessary-lambda-assignment
  adam = (f"| adam | 2/2 | 0.8500 ± {sd(0.8, 0.9):.4f} | "
          f"0.6000 ± {sd(0.5, 0.7):.4f} | 0.5000 ± {sd(0.4, 0.6):.4f} | "
          f"11.0 ± {sd(10.0, 12.0):.1f} | 105.0 ± {sd(100.0, 110.0):.1f} |")
  sgd = "| sgd | 1/2 | 0.6000 | 0.3000 | 0.2000 | 11.0 | 90.0 |"
  command = ("python -m research.train --epochs=2 --synthetic_train_size=64 "
             "--optimizer={} --seed=$SEED "
             f"--model_dir={runs_dir}/opt/optimizer-{{}}/seed$SEED")
  expected = "\n".join([
      "# Study `opt`", "", "Adam against SGD.", "",
      "Made by `python -m experiments.run opt` from the runs' results.json "
      "files (seeds 0, 1); test metrics of the final epoch's weights as "
      "mean ± sample std over seeds.", "",
      "Code that made the runs (their results.json code_version): `aaaaaaa` "
      "(1 run), `bbbbbbb` with uncommitted changes (1 run), not recorded "
      "(1 run).", "",
      "| optimizer | seeds | coarse/accuracy | fine/accuracy | "
      "joint/exact_match | wall s | steps/s |",
      "|---|---|---|---|---|---|---|", adam, sgd, "",
      "## Commands (one per seed)", "",
      f"- `{command.format('adam', 'adam')}`",
      f"- `{command.format('sgd', 'sgd')}`", ""])
  md_path, csv_path = table.write(study, runs_dir, str(tmp_path / "results"),
                                  "python -m experiments.run opt")
  with open(md_path) as handle:
    assert handle.read() == expected
  with open(csv_path) as handle:
    rows = list(csv.DictReader(handle))
  assert [r["optimizer"] for r in rows] == ["adam", "sgd"]
  assert float(rows[0]["fine/accuracy_mean"]) == pytest.approx(0.6)
  assert float(rows[0]["fine/accuracy_std"]) == pytest.approx(sd(0.5, 0.7))
  assert rows[1]["fine/accuracy_std"] == "" and rows[1]["seeds"] == "1"
  assert rows[1]["command"] == command.format("sgd", "sgd")
  assert "fine/loss_mean" not in rows[0]


def test_a_metric_a_run_left_undefined_is_left_out_and_counted(tmp_path):
  # A run whose test split had no coarse labels records coarse/accuracy as
  # NaN: it is left out like a value never recorded, not averaged in.
  study = study_lib.load(_study_file(str(tmp_path)))
  runs_dir = str(tmp_path / "runs")
  nan = float("nan")
  _write_results(runs_dir, "optimizer-adam", 0, 0.5, nan, nan, 10.0, 100.0)
  _write_results(runs_dir, "optimizer-adam", 1, 0.7, 0.9, nan, 12.0, 110.0)
  _write_results(runs_dir, "optimizer-sgd", 0, 0.3, nan, 0.2, 11.0, 90.0)
  _, csv_path = table.write(study, runs_dir, str(tmp_path / "results"),
                            "python -m experiments.run opt")
  with open(csv_path) as handle:
    adam, sgd = list(csv.DictReader(handle))
  assert (adam["coarse/accuracy_mean"], adam["coarse/accuracy_std"],
          adam["coarse/accuracy_n"]) == ("0.9", "", "1")
  assert (adam["joint/exact_match_mean"], adam["joint/exact_match_n"]) == (
      "", "0")
  assert (sgd["coarse/accuracy_mean"], sgd["coarse/accuracy_n"]) == ("", "0")
  markdown = table.markdown(study, runs_dir, "python -m experiments.run opt")
  assert "| adam | 2/2 | 0.9000 (n=1) | 0.6000 ± " in markdown
  assert "| sgd | 1/2 | — | 0.3000 | 0.2000 |" in markdown


def _fake_results(run):
  """Deterministic numbers per (cell, seed), standing in for a training run."""
  adam = "adam" in run.cell.name
  return 0.5 + 0.1 * run.seed + (0.2 if adam else 0.0)


class FakeLauncher:
  """Writes results.json like research.train would; can die after `limit` runs."""

  def __init__(self, limit=None):
    self.limit = limit
    self.ran = []

  def __call__(self, run):
    if self.limit is not None and len(self.ran) >= self.limit:
      raise KeyboardInterrupt  # the sweep is killed here
    self.ran.append(run.model_dir)
    accuracy = _fake_results(run)
    sweep_results = {"test": {"fine/accuracy": accuracy,
                              "coarse/accuracy": accuracy / 2},
                     "wall_seconds": 3.0, "steps_per_second": 50.0}
    with open(os.path.join(run.model_dir, "results.json"), "w") as handle:
      json.dump(sweep_results, handle)
    return 0


def _sweep(study, runs_dir, results_dir, launcher):
  sweep.execute(sweep.plan(study, runs_dir), launch=launcher,
                report=lambda line: None)
  md, csv_path = table.write(study, runs_dir, results_dir, "cmd")
  with open(md) as m, open(csv_path) as c:
    return m.read(), c.read()


def test_interrupted_sweep_reruns_only_missing_runs_and_same_table(tmp_path):
  study = study_lib.load(_study_file(str(tmp_path)))
  uninterrupted = _sweep(study, str(tmp_path / "a"), str(tmp_path / "ra"),
                         FakeLauncher())
  runs_dir = str(tmp_path / "b")
  dying = FakeLauncher(limit=2)
  with pytest.raises(KeyboardInterrupt):
    _sweep(study, runs_dir, str(tmp_path / "rb"), dying)
  restarted = FakeLauncher()
  resumed = _sweep(study, runs_dir, str(tmp_path / "rb"), restarted)
  all_runs = [r.model_dir for r in sweep.plan(study, runs_dir)]
  assert len(all_runs) == 4
  assert restarted.ran == [d for d in all_runs if d not in dying.ran]
  # The same table, but for the runs folder its commands name.
  assert resumed == tuple(text.replace(str(tmp_path / "a"), runs_dir)
                          for text in uninterrupted)
  again = FakeLauncher()
  _sweep(study, runs_dir, str(tmp_path / "rb"), again)
  assert again.ran == []


def test_finished_run_of_a_changed_study_is_refused(tmp_path):
  runs_dir = str(tmp_path / "runs")
  _sweep(study_lib.load(_study_file(str(tmp_path))), runs_dir,
         str(tmp_path / "r"), FakeLauncher())
  changed = study_lib.load(_study_file(
      str(tmp_path), STUDY_TEXT.replace('"epochs": 2', '"epochs": 3')))
  with pytest.raises(ValueError, match="optimizer-adam/seed0 holds a run made"):
    sweep.execute(sweep.plan(changed, runs_dir), launch=FakeLauncher(),
                  report=lambda line: None)


@pytest.mark.parametrize("base, message", [
    ('{"optimizr": "sgd"}', r"opt\.py: unknown flag --optimizr"),
    ('{"epochs": 0}', r"opt\.py: cell optimizer-adam: flag --epochs=0"),
    ('{"seed": 3}', r"opt\.py: --seed is set by the runner"),
    ('{"parallel": 2}', r"opt\.py: --parallel is not a research.train flag"),
])
def test_bad_study_flags_fail_before_anything_runs(tmp_path, base, message):
  text = STUDY_TEXT.replace('{"epochs": 2, "synthetic_train_size": 64}', base)
  with pytest.raises(ValueError, match=message):
    study_lib.load(_study_file(str(tmp_path), text))


def test_runner_stops_on_a_bad_study_flag_with_one_line(tmp_path, capsys):
  text = STUDY_TEXT.replace('"epochs": 2', '"optimizr": "sgd"')
  path = _study_file(str(tmp_path), text)
  helpers.parsed_flags()
  with pytest.raises(SystemExit) as stop:
    run_lib.main(["run", path])
  assert stop.value.code == (f"error: {path}: unknown flag --optimizr (not "
                             "defined in research/flags.py)")
  assert capsys.readouterr().out == ""


def test_bad_grid_value_names_the_cell_and_flag(tmp_path):
  text = STUDY_TEXT.replace('"sgd"]', '"sgdx"]')
  with pytest.raises(ValueError, match=r"cell optimizer-sgdx: flag "
                     r"--optimizer=sgdx: value should be one of"):
    study_lib.load(_study_file(str(tmp_path), text))


def test_list_grid_fills_missing_axes_from_base_then_flag_defaults(tmp_path):
  text = STUDY_TEXT.replace('{"optimizer": ["adam", "sgd"]}',
                            '[{"optimizer": "sgd", "learning_rate": 0.1}, '
                            '{"optimizer": "adamw"}]')
  study = study_lib.load(_study_file(str(tmp_path), text))
  assert study.axes == ("optimizer", "learning_rate")
  assert study.cells[1].settings == {"optimizer": "adamw",
                                     "learning_rate": 0.001}
  assert study.cells[0].name == "optimizer-sgd__learning_rate-0.1"


def test_shipped_studies_are_well_formed():
  for name in study_lib.available():
    raw = study_lib._read(name)[1]  # pylint: disable=protected-access
    assert set(raw) <= {"description", "base", "grid", "seeds"}, name
  assert study_lib.load("optimizers").seeds == (0, 1, 2)


@pytest.mark.slow
def test_real_sweep_trains_tiny_runs_then_skips_them(tmp_path):
  text = STUDY_TEXT.replace(
      '{"epochs": 2, "synthetic_train_size": 64}',
      '{"epochs": 1, "synthetic_train_size": 64, "synthetic_feature_dim": 4, '
      '"width": 4, "batch_size": 32, "verbose": 0}').replace("[0, 1]", "[0]")
  study = study_lib.load(_study_file(str(tmp_path), text))
  runs_dir = str(tmp_path / "runs")
  ran, failed = sweep.execute(sweep.plan(study, runs_dir), parallel=2,
                              report=lambda line: None)
  assert len(ran) == 2 and not failed
  md, _ = table.write(study, runs_dir, str(tmp_path / "results"), "cmd")
  with open(md) as handle:
    text = handle.read()
  assert "| adam | 1/1 |" in text and "| sgd | 1/1 |" in text
  ran, _ = sweep.execute(sweep.plan(study, runs_dir), report=lambda line: None)
  assert ran == []


@pytest.fixture
def runner(tmp_path, monkeypatch):
  """(FakeLauncher, study file) for experiments.run.main, its runs and
  tables under tmp_path."""
  monkeypatch.setattr(run_lib, "RUNS_DIR", str(tmp_path / "runs"))
  monkeypatch.setattr(run_lib, "RESULTS_DIR", str(tmp_path / "results"))
  launcher = FakeLauncher()
  monkeypatch.setattr(sweep, "launch_subprocess", launcher)
  helpers.parsed_flags()
  path = _study_file(str(tmp_path))
  return launcher, path


def test_runner_entry_point_applies_overrides_and_writes_tables(
    tmp_path, runner):
  launcher, path = runner
  trial_dir = str(tmp_path / "trial")
  with flagsaver.as_parsed(epochs="3", results_dir=trial_dir):
    run_lib.main(["run", path])
  assert len(launcher.ran) == 4
  assert all(run.startswith(os.path.join(trial_dir, "runs", "opt"))
             for run in launcher.ran)
  with open(os.path.join(launcher.ran[0], "command.json")) as handle:
    assert "--epochs=3" in json.load(handle)["train_flags"]
  with open(os.path.join(trial_dir, "opt", "table.md")) as handle:
    text = handle.read()
  assert (f"Made by `python -m experiments.run {path} --epochs=3 "
          f"--results_dir={trial_dir}`") in text
  assert "| adam | 2/2 |" in text
  assert not (tmp_path / "results").exists()


def test_committed_results_need_results_dir_once_a_flag_changes_them():
  assert committed.results_dir(None, "committed", [], "the study") == (
      "committed")
  assert committed.results_dir("/tmp/t", "committed", ["epochs"],
                               "the study") == "/tmp/t"
  with pytest.raises(ValueError, match=re.escape(
      "this run changes the recipe (--width, --epochs); give --results_dir "
      "so it does not overwrite the committed committed")):
    committed.results_dir("", "committed", ["width", "epochs"], "the recipe")


def test_a_symlink_to_the_committed_folder_is_the_committed_folder(tmp_path):
  (tmp_path / "results").mkdir()
  (tmp_path / "link").symlink_to(tmp_path / "results")
  with pytest.raises(ValueError, match="is the committed folder"):
    committed.results_dir(str(tmp_path / "link"), str(tmp_path / "results"),
                          ["epochs"], "the study")


def test_overrides_that_change_what_the_study_runs_are_named(tmp_path):
  # epochs: the base's value; learning_rate: the flag default; coarse_loss:
  # set over a default of None.
  study = study_lib.load(_study_file(str(tmp_path)), {
      "epochs": 2, "learning_rate": 0.001, "coarse_loss": "focal",
      "width": 64})
  assert study.changed_by_overrides == ("coarse_loss", "width")
  assert study_lib.load(_study_file(str(tmp_path))).changed_by_overrides == ()


def test_runner_writes_the_committed_tables_only_for_the_study_as_committed(
    tmp_path, runner):
  launcher, path = runner
  with flagsaver.as_parsed(epochs="3", learning_rate="0.001"):
    with pytest.raises(SystemExit, match=r"^error: this run changes the "
                       r"study \(--epochs\); give --results_dir"):
      run_lib.main(["run", path])
  assert launcher.ran == []
  run_lib.main(["run", path])
  finished = list(launcher.ran)
  # Flags at the values the study runs with (its base, else the flag
  # default) do not change it, nor keep its finished runs from being reused.
  with flagsaver.as_parsed(epochs="2", learning_rate="1e-3"):
    run_lib.main(["run", path])
  assert launcher.ran == finished
  assert os.path.isfile(tmp_path / "results" / "opt" / "table.md")


def test_tool_flags_are_documented_in_flags_md():
  with open(os.path.join(os.path.dirname(__file__), "..", "flags.md")) as f:
    documented = f.read()
  for names in research_flags.TOOL_GROUPS.values():
    for name in names:
      assert f"| `--{name}` |" in documented, name
