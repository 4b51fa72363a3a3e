"""Runs a study's (cell, seed) runs, skipping every run whose results.json exists.

A run is one `python -m research.train` process with
`--model_dir=<runs_dir>/<study>/<cell>/seed<k>`. Before it starts, the runner
writes `command.json` there. A later sweep reuses a finished run (results.json)
only if it is the run the study asks for: its command.json holds the same
command and its config.json the same configuration. Anything else (no
command.json, as for a run made by hand; another command; another
configuration) is refused rather than mixed into the table.
"""

import concurrent.futures
import copy
import dataclasses
import os
import subprocess
import sys

from research import config
from research import flags as research_flags
from research import summaries

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = "results.json"
COMMAND = "command.json"
CONFIG = "config.json"


@dataclasses.dataclass(frozen=True)
class Run:
  cell: object  # study.Cell
  seed: int
  model_dir: str
  train_flags: tuple  # without --model_dir, which follows the folder


def plan(study, runs_dir):
  """Every run of a study, cell by cell, seed by seed."""
  return [Run(cell=cell, seed=seed,
              model_dir=run_dir(runs_dir, study.name, cell.name, seed),
              train_flags=tuple(study.train_flags(cell, seed)))
          for cell in study.cells for seed in study.seeds]


def run_dir(runs_dir, study_name, cell_name, seed):
  return os.path.join(runs_dir, study_name, cell_name, f"seed{seed}")


def read_record(path):
  """A JSON record of a run; ValueError naming `path` if it is not JSON."""
  try:
    return summaries.read_json(path)
  except (ValueError, UnicodeDecodeError) as error:
    raise ValueError(f"{path} is not valid JSON ({error}); delete that run's "
                     "folder to rerun it") from None


def is_done(run):
  """True if the run finished; raises ValueError if what finished in its
  folder is not this run (see the module docstring)."""
  if not os.path.isfile(os.path.join(run.model_dir, RESULTS)):
    return False
  refusal = (f"; delete {run.model_dir} (or the study's runs) to rerun it "
             "rather than mix it into the table")
  command_path = os.path.join(run.model_dir, COMMAND)
  if not os.path.isfile(command_path):
    raise ValueError(f"{run.model_dir} holds a finished run but no {COMMAND}, "
                     "so this runner did not make it" + refusal)
  recorded = read_record(command_path).get("train_flags")
  if recorded != list(run.train_flags):
    raise ValueError(
        f"{run.model_dir} holds a run made with {recorded}, but the study "
        f"now asks for {list(run.train_flags)}" + refusal)
  config_path = os.path.join(run.model_dir, CONFIG)
  if os.path.isfile(config_path):
    try:
      differing = summaries.differences_from_recorded(
          config_path, expected_config(run.train_flags))
    except ValueError as error:
      raise ValueError(f"{error}" + refusal) from None
    if differing:
      raise ValueError(f"{config_path} records a run that differs from the "
                       f"study's ({'; '.join(differing)})" + refusal)
  return True


def expected_config(train_flags):
  """The config dict `research.train` builds from `train_flags`."""
  parser = copy.deepcopy(research_flags.FLAGS)
  parser.unparse_flags()  # defaults, not this process's flag values
  parser(["train", *train_flags])
  return config.from_flags(parser, research_flags.GROUPS).as_dict()


def train_command(run):
  """The argv that trains one run."""
  return [sys.executable, "-m", "research.train", *run.train_flags,
          f"--model_dir={run.model_dir}"]


def launch_subprocess(run):
  """Trains one run in a child process; its output goes to <model_dir>/train.log.

  Returns:
    The process exit code.
  """
  with open(os.path.join(run.model_dir, "train.log"), "w") as log:
    return subprocess.run(train_command(run), stdout=log, cwd=REPO_ROOT,
                          stderr=subprocess.STDOUT, check=False).returncode


def execute(runs, launch=launch_subprocess, parallel=1, report=print):
  """Runs the runs that are not done, `parallel` at a time.

  Args:
    runs: from `plan`.
    launch: Run -> exit code (0 = success); tests pass a fake.
    parallel: how many launches at once.
    report: called with one progress line per finished run.

  Returns:
    (ran, failed): lists of Runs.
  """
  pending = [run for run in runs if not is_done(run)]
  report(f"{len(runs) - len(pending)} of {len(runs)} runs already done; "
         f"running {len(pending)}")
  for run in pending:
    summaries.write_json(os.path.join(run.model_dir, COMMAND),
                         {"train_flags": list(run.train_flags)})
  failed = []
  with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
    futures = {pool.submit(launch, run): run for run in pending}
    try:
      for future in concurrent.futures.as_completed(futures):
        run = futures[future]
        code = future.result()
        if code != 0:
          failed.append(run)
        report(f"{'FAILED' if code else 'done'}: {run.model_dir}"
               + (f" (exit {code}, see train.log)" if code else ""))
    except BaseException:
      # Ctrl-C or a crash: start nothing new; the next sweep resumes.
      pool.shutdown(wait=False, cancel_futures=True)
      raise
  return pending, failed
