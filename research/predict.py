"""Entry point: `python -m research.predict --model_dir=DIR --input=FILE`.

Labels new inputs with a trained run and writes a CSV (`--output`, default
predictions.csv): id, coarse and fine label, their names and probabilities, and
each head's full distribution. Which inputs are readable depends on the task's
input kind (research/prediction_inputs.py): feature rows (.npy, .csv), images
(a file, a folder, a list of paths relative to the list or `--data_dir`, a
.npy pixel array), texts (a CSV with the run's text column), or a .tfrecord
file of any kind. Bad input stops with one line per problem, no traceback.
"""

import dataclasses
import sys

from absl import app

from research import config
from research import flags as flags_lib
from research import prediction
from research import restore
from research.data import problems

FLAGS = flags_lib.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.model_dir or not FLAGS.input:
    raise app.UsageError("--model_dir and --input are required")
  try:
    run = restore.restore(FLAGS.model_dir, FLAGS.checkpoint)
    data_cfg = dataclasses.replace(run.cfg.data, data_dir=FLAGS.data_dir)
    ids, inputs = prediction.read_inputs(FLAGS.input, run.spec, data_cfg)
  # OSError: an input that cannot be opened (a folder named like a file, no
  # permission), named in the error.
  except (problems.DataError, OSError, config.ConfigError) as error:
    sys.exit(f"error: {error}")
  probabilities, labels = prediction.predict(run.model, inputs)
  output = FLAGS.output or "predictions.csv"
  prediction.write_csv(output, ids, probabilities, labels, run.spec)
  print(f"{len(ids)} predictions written to {output}")


if __name__ == "__main__":
  app.run(main)
