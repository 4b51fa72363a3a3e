"""Entry point: `python -m research.export --model_dir=DIR [--export_dir=...]`.

Writes a SavedModel (default <model_dir>/export) whose `serving_default`
signature takes raw input (`features` rows, `images` as encoded file bytes, or
`text` strings, by the task; see research/serving.py) and returns both heads'
probabilities, labels and label names. Load it with
`tf.saved_model.load(export_dir)`.
"""

import os
import sys

from absl import app

from research import config
from research import flags as flags_lib
from research import restore
from research import serving
from research import train
from research.data import problems

FLAGS = flags_lib.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.model_dir:
    raise app.UsageError("--model_dir is required")
  train.quiet_logging_unless_asked()  # saving logs every shard and asset
  try:
    run = restore.restore(FLAGS.model_dir, FLAGS.checkpoint)
  except (problems.DataError, FileNotFoundError, config.ConfigError) as error:
    sys.exit(f"error: {error}")
  export_dir = FLAGS.export_dir or os.path.join(FLAGS.model_dir, "export")
  serving.export(run.model, run.spec, export_dir)
  print(f"SavedModel written to {export_dir} (signature serving_default)")


if __name__ == "__main__":
  app.run(main)
