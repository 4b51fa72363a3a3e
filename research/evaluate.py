"""Entry point: `python -m research.evaluate --model_dir=DIR[,DIR...]`.

Restores each run's best (or last) checkpoint, evaluates `--split`, and writes
into each model_dir: eval_<split>.json, report_<split>.md, confusion PNGs per
head and logits_<split>.npz. With several dirs it also averages their
probabilities and writes the ensemble's records to `--output` (default
<first model_dir>/ensemble), listing every member's headline metrics.
"""

import os
import sys

from absl import app

from research import config
from research import evaluation
from research import flags as flags_lib
from research import reporting
from research import restore
from research.data import problems
from research.labels import HEADS

FLAGS = flags_lib.FLAGS


def headline(report):
  """One line per head: accuracy and macro-F1; exact match and consistency."""
  parts = [f"{head} acc {report[head]['accuracy']:.4f} "
           f"macro-F1 {report[head]['macro_f1']:.4f}"
           for head in HEADS]
  parts += [f"{name} {value:.4f}" for name, value in report["joint"].items()]
  return ", ".join(parts)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.model_dir:
    raise app.UsageError("--model_dir is required (comma-separate several "
                         "for an ensemble)")
  model_dirs = FLAGS.model_dir.split(",")
  try:
    members, ensemble = evaluation.evaluate_runs(model_dirs, FLAGS.split,
                                                 FLAGS.checkpoint)
  except (FileNotFoundError, config.ConfigError,
          problems.DataError) as error:
    sys.exit(f"error: {error}")
  names = {"coarse": members[0][0].spec.coarse_names,
           "fine": members[0][0].spec.fine_names}
  for run, logits, report in members:
    # Training prints the last weights' numbers; say which weights these are.
    weights = restore.describe_checkpoint(FLAGS.checkpoint, run.cfg.runtime)
    scored = f"{run.model_dir} ({FLAGS.split} split, {weights})"
    reporting.write_report(run.model_dir, FLAGS.split, report, names, scored)
    reporting.write_logits(run.model_dir, FLAGS.split, logits,
                           {"coarse": run.spec.splits[FLAGS.split].coarse,
                            "fine": run.spec.splits[FLAGS.split].fine})
    print(f"{scored}: {headline(report)}")
  if ensemble is not None:
    folder = FLAGS.output or os.path.join(model_dirs[0], "ensemble")
    ensemble["members"] = {run.model_dir: evaluation.headline_metrics(report)
                           for run, _, report in members}
    reporting.write_report(folder, FLAGS.split, ensemble, names,
                           f"ensemble of {len(model_dirs)} ({FLAGS.split})")
    print(f"ensemble: {headline(ensemble)}\nrecords in {folder}")


if __name__ == "__main__":
  app.run(main)
