"""Entry point: converts any source to sharded TFRecords.

  python -m research.data.to_tfrecord --dataset=label_file --data_dir=imgs \
      --tfrecord_dir=records --tfrecord_shards=8

The source is loaded (and checked) exactly as training would load it; images
are stored decoded and resized (PNG), texts raw. Train on the result with
`--dataset=tfrecord --data_dir=records`. The feature spec is in
`research/data/tfrecord.py`.
"""

from absl import app
from absl import flags

from research import config
from research import flags as flags_lib
from research.data import problems
from research.data import registry
from research.data import tfrecord

# Named for this tool alone: tests import every entry point into one process.
_OUTPUT_DIR = flags.DEFINE_string(
    "tfrecord_dir", None, "Folder to write the shards and dataset.json into.")
_SHARDS = flags.DEFINE_integer("tfrecord_shards", 4,
                               "TFRecord files per split.", lower_bound=1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not _OUTPUT_DIR.value:
    raise app.UsageError("--tfrecord_dir is required: where to write")
  cfg = config.from_flags(flags_lib.FLAGS, flags_lib.GROUPS)
  try:
    spec = registry.load(cfg.data, cfg.train.seed)
  except problems.DataError as error:
    raise SystemExit(str(error)) from None
  metadata = tfrecord.write(spec, _OUTPUT_DIR.value, _SHARDS.value)
  counts = ", ".join(f"{name} {entry['count']}"
                     for name, entry in metadata["splits"].items())
  print(f"wrote {counts} examples to {_OUTPUT_DIR.value}")


if __name__ == "__main__":
  app.run(main)
