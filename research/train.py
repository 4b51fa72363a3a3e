"""Entry point: `python -m research.train [--flags]` trains, tests and reports.

Reads the flags, freezes them into a Config, runs, and prints a per-head table
plus the command to open TensorBoard.
"""

import datetime
import os
import sys

from absl import app
from absl import logging

from research import config
from research import flags as flags_lib
from research import guards
from research import training
from research.data import problems as data_problems
from research.labels import HEADS

FLAGS = flags_lib.FLAGS


def default_model_dir(prefix=""):
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
  return os.path.join("runs", prefix + stamp)


def counted(number, noun):
  """'1 epoch', '16 epochs': a count with its noun in the right number."""
  return f"{number} {noun}" + ("" if number == 1 else "s")


def summary_table(results):
  """Per-head test metrics as an aligned text table."""
  test = results["test"]
  rows = [("head", "loss", "accuracy", "macro_f1", "top3")]
  for head in HEADS:
    top3 = test.get(f"{head}/top3_accuracy")
    rows.append((head, f"{test[f'{head}/loss']:.4f}",
                 f"{test[f'{head}/accuracy']:.4f}",
                 f"{test[f'{head}/macro_f1']:.4f}",
                 "-" if top3 is None else f"{top3:.4f}"))
  rows.append(("joint", f"{test['loss']:.4f}",
               f"{test['joint/exact_match']:.4f}", "-", "-"))
  lines = ["  ".join(f"{cell:<10}" for cell in row).rstrip() for row in rows]
  lines.append("(joint: total loss, exact match = both heads right)")
  hierarchy = results["hierarchy"]
  lines.append(f"consistency (fine under predicted coarse): "
               f"{test['joint/consistency']:.4f}; hierarchy "
               f"{'strict' if hierarchy['strict'] else 'not strict'} "
               f"({hierarchy['fine_under_several_coarse']} fine classes under "
               f"several coarse)")
  if "joint/set_accuracy" in test:
    lines.append(f"set accuracy (top-2 joined logits = both labels): "
                 f"{test['joint/set_accuracy']:.4f}")
  return "\n".join(lines)


def quiet_logging_unless_asked():
  if not FLAGS["verbosity"].present:
    # absl defaults to INFO, where TF's checkpoint saver logs every save
    # ("Sharding callback duration") between the per-epoch lines.
    logging.set_verbosity(logging.WARNING)


def warn_if_single_worker(strategy, environ):
  """Warns when --strategy=multi_worker has no TF_CONFIG in `environ`: TF then
  runs one worker on this machine's devices, which looks like success."""
  if strategy == "multi_worker" and not environ.get("TF_CONFIG"):
    logging.warning("--strategy=multi_worker without TF_CONFIG: running as a "
                    "single worker on this machine's devices; set TF_CONFIG "
                    "on every worker (BUILD.md, \"Scaling out\")")


def run_or_exit(cfg):
  """training.run(cfg) in `cfg.runtime.model_dir`; a run that cannot start
  or diverges exits with its one-line error instead of a traceback."""
  try:
    return training.run(cfg, cfg.runtime.model_dir)
  except (guards.NonFiniteLossError, config.ConfigError) as error:
    sys.exit(f"error: {error}")
  except data_problems.DataError as error:
    sys.exit(str(error))  # every bad line at once, no traceback


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  quiet_logging_unless_asked()
  cfg = config.from_flags(FLAGS, flags_lib.GROUPS)
  warn_if_single_worker(cfg.runtime.strategy, os.environ)
  model_dir = cfg.runtime.model_dir or default_model_dir()
  cfg = cfg.replace(runtime={"model_dir": model_dir})
  results = run_or_exit(cfg)
  rate = results["steps_per_second"]
  print(f"\nTest results ({counted(results['epochs'], 'epoch')}, "
        f"{results['wall_seconds']:.0f} s, "
        f"{'no timed' if rate is None else f'{rate:.0f}'} steps/s):")
  print(summary_table(results))
  print(f"\nRecords in {model_dir}; view with: tensorboard --logdir {model_dir}")


if __name__ == "__main__":
  app.run(main)
