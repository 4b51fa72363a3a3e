"""Ablation tables from results.json files: one row per cell, mean ± std over seeds.

Numbers come only from the runs' results.json files (never typed in), so a
table can always be regenerated from the runs. Test metrics are every
non-loss entry of results["test"] (losses are not comparable across loss
functions), scored with each run's final-epoch weights (not its best
checkpoint); std is the sample standard deviation (n - 1), blank for one
seed. A value that fewer of a row's seeds recorded (e.g. steps/s of a run
whose last, resumed process had one epoch or none left; a metric a run
recorded as NaN, undefined for want of labelled test examples) is the mean
of those that did, marked "(n=k)" in table.md. table.md also names the
commits of the code that made its runs, so a table that mixes code versions
says so.
"""

import collections
import csv
import io
import os

import numpy as np

from experiments import sweep
from research import summaries

_HEAD_ORDER = ("coarse", "fine", "joint")
_TIMING = (("wall_seconds", "wall s"), ("steps_per_second", "steps/s"))


def collect(study, runs_dir):
  """{cell name: [results dict per finished seed]}, in seed order."""
  found = {}
  for run in sweep.plan(study, runs_dir):
    path = os.path.join(run.model_dir, sweep.RESULTS)
    if os.path.isfile(path):
      results = sweep.read_record(path)
      if not isinstance(results, dict) or not isinstance(
          results.get("test"), dict):
        raise ValueError(f"{path} holds no test metrics; delete that run's "
                         "folder to rerun it")
      found.setdefault(run.cell.name, []).append(results)
  return found


def metric_names(found):
  """Test metric names of all results, coarse then fine then joint, no losses."""
  names = {name for results in found.values() for r in results
           for name in r["test"] if name.split("/")[-1] != "loss"}
  def order(name):
    head = name.split("/")[0]
    rank = _HEAD_ORDER.index(head) if head in _HEAD_ORDER else len(_HEAD_ORDER)
    return rank, name
  return sorted(names, key=order)


def mean_std(values):
  """(mean, sample std, count) of the values that are not None or NaN (a
  metric undefined in that run, e.g. for a head without test labels); std is
  nan for fewer than two."""
  values = np.asarray([v for v in values if v is not None], np.float64)
  values = values[~np.isnan(values)]
  if not len(values):
    return float("nan"), float("nan"), 0
  std = values.std(ddof=1) if len(values) > 1 else float("nan")
  return float(values.mean()), float(std), len(values)


def rows(study, runs_dir):
  """One dict per cell: settings, seeds done, (mean, std, n) per metric and
  timing, command."""
  found = collect(study, runs_dir)
  metrics = metric_names(found)
  table = []
  for cell in study.cells:
    results = found.get(cell.name, [])
    row = {"settings": cell.settings, "seeds": len(results),
           "command": command_text(study, cell, runs_dir)}
    row["metrics"] = {m: mean_std([r["test"].get(m) for r in results])
                      for m in metrics}
    row["timing"] = {key: mean_std([r.get(key) for r in results])
                     for key, _ in _TIMING}
    table.append(row)
  return metrics, table


def code_versions(study, runs_dir):
  """Which code made the finished runs, from their results.json
  `code_version`: "`0123abc` (4 runs), not recorded (2 runs)"."""
  counts = collections.Counter(
      _version_text(results.get("code_version"))
      for runs in collect(study, runs_dir).values() for results in runs)
  return ", ".join(
      f"{text} ({count} run{'' if count == 1 else 's'})"
      for text, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _version_text(version):
  if not version:  # runs from before code_version was recorded
    return "not recorded"
  return f"`{version['commit'][:7]}`" + (
      " with uncommitted changes" if version["modified"] else "")


def command_text(study, cell, runs_dir):
  """The research.train command of a cell's runs in `runs_dir`, with $SEED
  for the seed (run from the repository root, as the runner does)."""
  flags = study.train_flags(cell, "$SEED")
  model_dir = sweep.run_dir(display_path(runs_dir), study.name, cell.name,
                            "$SEED")
  return " ".join(["python -m research.train", *flags,
                   f"--model_dir={model_dir}"])


def display_path(path):
  """`path` relative to the repository root if inside it, else absolute."""
  path = os.path.abspath(path)
  relative = os.path.relpath(path, sweep.REPO_ROOT)
  return path if relative.startswith(os.pardir) else relative


def _cell(mean, std, count, seeds, digits):
  if not count:
    return "—"
  text = (f"{mean:.{digits}f}" if np.isnan(std)
          else f"{mean:.{digits}f} ± {std:.{digits}f}")
  return text + (f" (n={count})" if count < seeds else "")


def markdown(study, runs_dir, runner_command):
  """The table.md text of a study."""
  metrics, table = rows(study, runs_dir)
  seeds = ", ".join(str(s) for s in study.seeds)
  partial = any(0 < count < row["seeds"] for row in table
                for _, _, count in [*row["metrics"].values(),
                                    *row["timing"].values()])
  lines = [f"# Study `{study.name}`", "", study.description, "",
           f"Made by `{runner_command}` from the runs' results.json files "
           f"(seeds {seeds}); test metrics of the final epoch's weights as "
           "mean ± sample std over seeds." +
           (" (n=k): the mean of the k seeds that recorded that value."
            if partial else ""),
           "", "Code that made the runs (their results.json code_version): "
           f"{code_versions(study, runs_dir) or 'no run yet'}.",
           "", "| " + " | ".join([*study.axes, "seeds", *metrics,
                                  *(label for _, label in _TIMING)]) + " |",
           "|" + "---|" * (len(study.axes) + 1 + len(metrics) + len(_TIMING))]
  for row in table:
    cells = [str(row["settings"][axis]) for axis in study.axes]
    cells.append(f"{row['seeds']}/{len(study.seeds)}")
    cells += [_cell(*row["metrics"][m], row["seeds"], digits=4)
              for m in metrics]
    cells += [_cell(*row["timing"][key], row["seeds"], digits=1)
              for key, _ in _TIMING]
    lines.append("| " + " | ".join(cells) + " |")
  lines += ["", "## Commands (one per seed)", ""]
  lines += [f"- `{row['command']}`" for row in table]
  return "\n".join(lines) + "\n"


def csv_text(study, runs_dir):
  """The table.csv text: axes, seeds, then <metric>_mean, _std and _n (the
  seeds that recorded it) for every metric and timing, and the command."""
  metrics, table = rows(study, runs_dir)
  measured = [*metrics, *(key for key, _ in _TIMING)]
  output = io.StringIO()
  writer = csv.writer(output, lineterminator="\n")
  writer.writerow([*study.axes, "seeds",
                   *(f"{m}_{s}" for m in measured for s in ("mean", "std",
                                                            "n")),
                   "command"])
  for row in table:
    values = {**row["metrics"], **row["timing"]}
    writer.writerow([*(row["settings"][axis] for axis in study.axes),
                     row["seeds"],
                     *(field for m in measured
                       for field in _csv_fields(*values[m])),
                     row["command"]])
  return output.getvalue()


def _csv_fields(mean, std, count):
  return _number(mean), _number(std), count


def _number(value):
  return "" if np.isnan(value) else repr(value)


def write(study, runs_dir, results_dir, runner_command):
  """Writes <results_dir>/<study>/table.md and table.csv; returns their paths."""
  folder = os.path.join(results_dir, study.name)
  os.makedirs(folder, exist_ok=True)
  paths = (os.path.join(folder, "table.md"), os.path.join(folder, "table.csv"))
  for path, text in zip(paths, (markdown(study, runs_dir, runner_command),
                                csv_text(study, runs_dir))):
    summaries.write_text(path, text)
  return paths
