"""Entry point: `python -m research.data.check --dataset=... [data flags]`.

Reads every split of the source the data flags describe, with the same checks
training runs first, and prints every problem as `file:line: message` (line =
record number for binary files). Exit code 1 if there is any problem, else 0
with a one-line summary.
"""

import sys

from absl import app

from research import config
from research import flags as flags_lib
from research.data import problems
from research.data import registry

FLAGS = flags_lib.FLAGS


def summary(spec):
  """One line: examples per split and class counts."""
  sizes = ", ".join(f"{name} {len(split)}" for name, split in spec.splits.items())
  return (f"ok: {spec.name}: {sizes} examples; {spec.num_coarse} coarse, "
          f"{spec.num_fine} fine classes")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cfg = config.from_flags(FLAGS, flags_lib.GROUPS)
  try:
    spec = registry.load(cfg.data, cfg.train.seed)
  except problems.DataError as error:
    print(str(error))
    sys.exit(1)
  print(summary(spec))


if __name__ == "__main__":
  app.run(main)
