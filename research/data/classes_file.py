"""`classes.json` in a run folder: what the label indices and tokens mean.

Written by `training.run`. A resumed run and the tools (evaluate, predict,
export) rebuild the task from the run's training data, then check it against
this record, so a run whose data files changed since it started (a class
renamed, other texts and so another vocabulary) is refused rather than given
other class names or token ids.
"""

import json
import os

from research import config
from research import summaries

NAME = "classes.json"
# The fields of a record, in the order differences are looked for.
FIELDS = ("dataset", "coarse_names", "fine_names", "fine_to_coarse",
          "vocabulary", "sequence_length")


def record(spec):
  """The class names, fine->coarse map and text vocabulary of `spec`, as
  `write` saves them."""
  fields = {
      "dataset": spec.name,
      "coarse_names": list(spec.coarse_names),
      "fine_names": list(spec.fine_names),
      "fine_to_coarse": (None if spec.fine_to_coarse is None
                         else [int(p) for p in spec.fine_to_coarse]),
  }
  if spec.vocabulary is not None:
    fields["vocabulary"] = list(spec.vocabulary)
    fields["sequence_length"] = spec.sequence_length
  return fields


def write(spec, model_dir):
  """Writes the record of `spec` into `model_dir`."""
  summaries.write_json(os.path.join(model_dir, NAME), record(spec))


def read(model_dir):
  """The record `write` left in `model_dir`; FileNotFoundError naming it."""
  path = os.path.join(model_dir, NAME)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: missing; expected the {NAME} that "
                            "research.train writes into every model_dir")
  return summaries.read_json(path)


def check_unchanged(model_dir, spec):
  """Raises config.ConfigError unless `spec`, the task rebuilt from the data
  files of the run in `model_dir`, is the task its classes.json records:
  data edited since (a class renamed, other texts) would give the weights'
  class indices other names and its tokens other ids, silently when the
  counts stay the same."""
  difference = first_difference(read(model_dir), spec)
  if difference:
    raise config.ConfigError(
        f"{os.path.join(model_dir, NAME)} records another task than "
        f"{model_dir}'s data gives now ({difference}); the data changed "
        "since the run started, and its weights would get other class names "
        "or tokens")


def differing_fields(recorded, spec):
  """The FIELDS whose value in `recorded` (as `read` returns it) differs from
  `spec`'s."""
  return _differing(recorded, _as_read(spec))


def first_difference(recorded, spec):
  """Where `spec`'s record first differs from `recorded` (as `read` returns
  it), e.g. "fine_names[0]: 'cat' recorded, 'dog' now"; None if nowhere."""
  current = _as_read(spec)
  differing = _differing(recorded, current)
  if not differing:
    return None
  name = differing[0]
  old, new = recorded.get(name), current.get(name)
  if isinstance(old, list) and isinstance(new, list):
    return _first_item_difference(name, old, new)
  return f"{name}: {old!r} recorded, {new!r} now"


def _differing(recorded, current):
  return [name for name in FIELDS if recorded.get(name) != current.get(name)]


def _as_read(spec):
  """`spec`'s record as it reads back from JSON (tuples become lists)."""
  return json.loads(json.dumps(record(spec)))


def _first_item_difference(name, old, new):
  for index, (old_item, new_item) in enumerate(zip(old, new)):
    if old_item != new_item:
      return f"{name}[{index}]: {old_item!r} recorded, {new_item!r} now"
  return f"{name}: {len(old)} entries recorded, {len(new)} now"
