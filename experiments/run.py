"""Entry point: `python -m experiments.run <study> [--parallel=N] [--epochs=E]`.

Runs every (cell, seed) of experiments/studies/<study>.py that has no
results.json yet as a `research.train` process under experiments/runs/<study>/
(`<results_dir>/runs/<study>/` with `--results_dir`), then writes
experiments/results/<study>/table.md and table.csv from all the runs'
results.json files. Interrupt it and run it again: only the missing runs
run, and the table comes out the same. A finished run folder that is not the
study's run, or a run record that is not valid JSON, stops it with one
`error:` line naming the folder or file; when runs fail, the committed table
is left as it was (a --results_dir table is written, its seeds column
showing what finished). Any research.train flag given here
(e.g. --epochs) overrides the study's base for every cell; a run whose flags
change the study must name `--results_dir` for its table (it stops before
anything runs otherwise), so the committed tables under experiments/results/,
which README quotes, come only from the studies as committed.
"""

import os
import shlex
import sys

from absl import app

from experiments import committed
from experiments import study as study_lib
from experiments import sweep
from experiments import table
from research import flags as flags_lib

FLAGS = flags_lib.FLAGS
ROOT = os.path.dirname(os.path.abspath(__file__))
RUNS_DIR = os.path.join(ROOT, "runs")
RESULTS_DIR = os.path.join(ROOT, "results")


def command_line_overrides():
  """research.train flags set on this command line: {flag: value}."""
  return {name: FLAGS[name].value
          for names in flags_lib.GROUPS.values() for name in names
          if FLAGS[name].present}


def runner_command(study_arg, flag_values):
  """This command line as the table's "Made by" line shows it."""
  return " ".join(["python -m experiments.run", study_arg,
                   *(shlex.quote(f"--{name}={study_lib.flag_text(value)}")
                     for name, value in flag_values.items())])


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("usage: python -m experiments.run <study> "
                         f"[--parallel=N]; studies: {study_lib.available()}")
  overrides = command_line_overrides()
  try:
    # One line naming the study file and flag, not app.UsageError's module
    # docstring in front of it.
    study = study_lib.load(argv[1], overrides)
    tables_dir = committed.results_dir(FLAGS.results_dir, RESULTS_DIR,
                                       study.changed_by_overrides, "the study")
    if study_lib.shadows_shipped(study) and committed.is_committed(
        tables_dir, RESULTS_DIR):
      raise ValueError(
          f"{study.path} is not the shipped study {study.name} but has its "
          "name; give --results_dir (another than the committed "
          f"{RESULTS_DIR}) or rename the file")
  except ValueError as error:
    sys.exit(f"error: {error}")
  # A trial's runs stay beside its table, apart from the committed study's;
  # absolute, as the training processes run from the repository root.
  runs_dir = os.path.abspath(os.path.join(FLAGS.results_dir, "runs")
                             if FLAGS.results_dir else RUNS_DIR)
  try:
    runs = sweep.plan(study, runs_dir)
    _, failed = sweep.execute(runs, launch=sweep.launch_subprocess,
                              parallel=FLAGS.parallel)
    if failed and committed.is_committed(tables_dir, RESULTS_DIR):
      sys.exit(f"error: {len(failed)} runs failed (see their train.log); "
               "rerun to retry only those. The committed table in "
               f"{os.path.join(tables_dir, study.name)} was left as it was.")
    table_flags = {**overrides, **({"results_dir": FLAGS.results_dir}
                                   if FLAGS.results_dir else {})}
    paths = table.write(study, runs_dir, tables_dir,
                        runner_command(argv[1], table_flags))
  except ValueError as error:  # a run folder that is not the study's run
    sys.exit(f"error: {error}")
  print(f"table: {paths[0]}\ncsv: {paths[1]}\n"
        f"compare runs: tensorboard --logdir {os.path.join(runs_dir, study.name)}")
  if failed:
    sys.exit(f"error: {len(failed)} runs failed (see their train.log); rerun "
             "to retry only those")


if __name__ == "__main__":
  app.run(main)
