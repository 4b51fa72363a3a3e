"""Entry point: converts any source to sharded TFRecords.

  python -m research.data.to_tfrecord --dataset=label_file --data_dir=imgs \
      --output_dir=records --shards=8

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

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None,
                                  "Folder to write the shards and dataset.json.")
_SHARDS = flags.DEFINE_integer("shards", 4, "TFRecord files per split.",
                               lower_bound=1)
flags.mark_flag_as_required("output_dir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
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
