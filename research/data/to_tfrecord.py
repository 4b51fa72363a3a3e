"""Entry point: converts any source to sharded TFRecords.

  python -m research.data.to_tfrecord --dataset=label_file --data_dir=imgs \
      --tfrecord_dir=records --tfrecord_shards=8

The source is loaded (and checked) exactly as training would load it; images
are stored decoded and resized (PNG), texts raw. Train on the result with
`--dataset=tfrecord --data_dir=records`. The feature spec is in
`research/data/tfrecord.py`.
"""

from absl import app

from research import config
from research import flags as flags_lib
from research.data import problems
from research.data import registry
from research.data import tfrecord

FLAGS = flags_lib.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.tfrecord_dir:
    raise app.UsageError("--tfrecord_dir is required: where to write")
  cfg = config.from_flags(FLAGS, flags_lib.GROUPS)
  try:
    spec = registry.load(cfg.data, cfg.train.seed)
  except problems.DataError as error:
    raise SystemExit(str(error)) from None
  metadata = tfrecord.write(spec, FLAGS.tfrecord_dir, FLAGS.tfrecord_shards)
  counts = ", ".join(f"{name} {entry['count']}"
                     for name, entry in metadata["splits"].items())
  print(f"wrote {counts} examples to {FLAGS.tfrecord_dir}")


if __name__ == "__main__":
  app.run(main)
