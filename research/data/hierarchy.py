"""The coarse<->fine relation: counted from labels or read from a mapping file.

A `Hierarchy` is a [num_coarse, num_fine] 0/1 mask of allowed pairs. By default
it is counted on the training split (a pair is allowed if it occurs at least
once); `--hierarchy_file` replaces it with a given mapping. The mask drives
hierarchy-consistent decoding and the `joint/consistency` metric.

Mapping file format, one allowed pair per line:

    # comment lines and blank lines are ignored
    <coarse> <fine>

where each of <coarse>, <fine> is a class name of the task or its integer
index. Names may hold spaces (`footwear Ankle boot`) when only one split of
the line gives two known classes. A fine class may appear under several coarse classes (a non-strict
hierarchy); every fine class must appear at least once.
"""

import dataclasses
from typing import Optional

import numpy as np

from research import config


def cooccurrence(coarse, fine, num_coarse, num_fine):
  """[num_coarse, num_fine] counts of (coarse, fine) pairs, both labels present."""
  both = (coarse >= 0) & (fine >= 0)
  counts = np.zeros((num_coarse, num_fine), np.int64)
  np.add.at(counts, (coarse[both], fine[both]), 1)
  return counts


def class_counts(labels, num_classes):
  """[num_classes] counts of the present labels (missing = -1 skipped)."""
  return np.bincount(labels[labels >= 0], minlength=num_classes)


@dataclasses.dataclass(frozen=True)
class Hierarchy:
  """Allowed (coarse, fine) pairs and where they came from.

  Attributes:
    mask: [num_coarse, num_fine] int32, 1 where the pair is allowed.
    source: "train split" or the mapping file's path.
    counts: [num_coarse, num_fine] co-occurrence on the training split, when
      the mask was counted.
  """
  mask: np.ndarray
  source: str
  counts: Optional[np.ndarray] = None

  @property
  def fine_under_several_coarse(self):
    """Number of fine classes allowed under more than one coarse class."""
    return int((self.mask.sum(axis=0) > 1).sum())

  @property
  def fine_without_coarse(self):
    """Number of fine classes under no coarse class (never seen in training)."""
    return int((self.mask.sum(axis=0) == 0).sum())

  @property
  def strict(self):
    """True when no fine class sits under more than one coarse class."""
    return self.fine_under_several_coarse == 0

  def report(self):
    """One line for logs: strict or not, and how many fine classes break it."""
    kind = "strict" if self.strict else "not strict"
    return (f"hierarchy from {self.source}: {kind}; "
            f"{self.fine_under_several_coarse} fine classes under more than "
            f"one coarse class, {self.fine_without_coarse} under none")

  def as_dict(self, coarse_names, fine_names):
    """JSON-ready record saved with the run (`hierarchy.json`)."""
    record = {
        "source": self.source,
        "strict": self.strict,
        "fine_under_several_coarse": self.fine_under_several_coarse,
        "fine_without_coarse": self.fine_without_coarse,
        "coarse_names": list(coarse_names),
        "fine_names": list(fine_names),
        "mask": self.mask.tolist(),
    }
    if self.counts is not None:
      record["counts"] = self.counts.tolist()
    return record


def counted(spec):
  """The pairs seen at least once in `spec`'s training split."""
  train = spec.splits["train"]
  counts = cooccurrence(train.coarse, train.fine, spec.num_coarse,
                        spec.num_fine)
  return Hierarchy(mask=(counts > 0).astype(np.int32), source="train split",
                   counts=counts)


def _class_index(token, names, kind, where):
  if token in names:
    return names.index(token)
  if token.lstrip("-").isdigit() and 0 <= int(token) < len(names):
    return int(token)
  raise config.ConfigError(
      f"{where}: unknown {kind} class {token!r}; expected one of the task's "
      f"{kind} names or an index in [0, {len(names)})")


def _known_index(token, names):
  """Index of a class name or integer index in `names`, else None."""
  if token in names:
    return names.index(token)
  if token.isdigit() and int(token) < len(names):
    return int(token)
  return None


def _pair_of_names(tokens, coarse_names, fine_names, where):
  """(coarse, fine) indices of a line of more than two words: the one split
  of it into two known classes."""
  pairs = {(_known_index(" ".join(tokens[:k]), coarse_names),
            _known_index(" ".join(tokens[k:]), fine_names))
           for k in range(1, len(tokens))}
  pairs = [pair for pair in pairs if None not in pair]
  if len(pairs) != 1:
    raise config.ConfigError(
        f"{where}: expected '<coarse> <fine>', got {' '.join(tokens)!r}, "
        f"which splits into {'no' if not pairs else 'several'} pair of the "
        "task's class names; give an index for a name with spaces")
  return pairs[0]


def from_file(path, coarse_names, fine_names):
  """Reads a mapping file (format in the module docstring).

  Args:
    path: the file.
    coarse_names, fine_names: the task's class names, index = label.

  Returns:
    A Hierarchy whose source is `path`.

  Raises:
    config.ConfigError naming `path:line` for a malformed line or unknown
    class, or listing the fine classes the file leaves without a coarse class.
  """
  coarse_names, fine_names = list(coarse_names), list(fine_names)
  mask = np.zeros((len(coarse_names), len(fine_names)), np.int32)
  with open(path, encoding="utf-8") as handle:
    for number, line in enumerate(handle, start=1):
      tokens = line.split("#", 1)[0].split()
      if not tokens:
        continue
      where = f"{path}:{number}"
      if len(tokens) == 1:
        raise config.ConfigError(f"{where}: expected '<coarse> <fine>', "
                                 f"got {line.strip()!r}")
      if len(tokens) == 2:
        pair = (_class_index(tokens[0], coarse_names, "coarse", where),
                _class_index(tokens[1], fine_names, "fine", where))
      else:
        pair = _pair_of_names(tokens, coarse_names, fine_names, where)
      mask[pair] = 1
  orphans = [fine_names[i] for i in np.flatnonzero(mask.sum(axis=0) == 0)]
  if orphans:
    raise config.ConfigError(
        f"{path}: fine classes under no coarse class: {', '.join(orphans)}; "
        "add a '<coarse> <fine>' line each")
  return Hierarchy(mask=mask, source=path)


def for_task(spec, hierarchy_file=None):
  """The run's hierarchy: read from `hierarchy_file` if given, else counted."""
  if hierarchy_file:
    return from_file(hierarchy_file, spec.coarse_names, spec.fine_names)
  return counted(spec)
