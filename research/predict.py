"""Entry point: `python -m research.predict --model_dir=DIR --input=FILE`.

Labels new inputs with a trained run and writes a CSV (`--output`, default
predictions.csv): id, coarse and fine label, their names and probabilities, and
each head's full distribution. Which inputs are readable depends on the task's
input kind (see research/prediction.py; features: .npy or .csv rows).
"""

from absl import app

from research import flags as flags_lib
from research import prediction
from research import restore

FLAGS = flags_lib.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.model_dir or not FLAGS.input:
    raise app.UsageError("--model_dir and --input are required")
  run = restore.restore(FLAGS.model_dir, FLAGS.checkpoint)
  ids, inputs = prediction.read_inputs(FLAGS.input, run.spec)
  probabilities, labels = prediction.predict(run.model, inputs)
  output = FLAGS.output or "predictions.csv"
  prediction.write_csv(output, ids, probabilities, labels, run.spec)
  print(f"{len(ids)} predictions written to {output}")


if __name__ == "__main__":
  app.run(main)
