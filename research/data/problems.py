"""Data problems as `file:line: message` records, collected and raised at once.

Loaders and the checker (`python -m research.data.check`) share these checks,
so training refuses bad data with exactly the messages the checker prints.
For binary sources (IDX, pickles, TFRecord) `line` is the 1-based record number.
"""

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Problem:
  path: str
  line: Optional[int]
  message: str

  def __str__(self):
    where = self.path if self.line is None else f"{self.path}:{self.line}"
    return f"{where}: {self.message}"


class DataError(ValueError):
  """Raised with every problem found; str() lists them one per line."""

  def __init__(self, problems):
    self.problems = tuple(problems)
    count = len(self.problems)
    lines = [f"{count} data problem{'s' if count != 1 else ''}:"]
    lines += [str(p) for p in self.problems]
    super().__init__("\n".join(lines))


def raise_if_any(problems):
  """Raises DataError when `problems` is not empty."""
  if problems:
    raise DataError(problems)


def duplicates(keys, path, lines, what="row"):
  """Problems for keys seen before: `duplicate <what> (first at line N)`.

  Args:
    keys: hashable key per record.
    path: file the records came from.
    lines: line number per record.
    what: noun for the message.
  """
  first_line = {}
  found = []
  for key, line in zip(keys, lines):
    if key in first_line:
      found.append(Problem(path, line,
                           f"duplicate {what} (first at line {first_line[key]})"))
    else:
      first_line[key] = line
  return found


def fine_under_two_coarse(coarse, fine, path, lines, coarse_names, fine_names):
  """Problems where a fine class appears under a second coarse class.

  Args:
    coarse, fine: [n] int labels, -1 missing (skipped).
    path: file the labels came from.
    lines: [n] line (or record) numbers.
    coarse_names, fine_names: class names for the messages.
  """
  parent = {}
  found = []
  for c, f, line in zip(coarse, fine, lines):
    if c < 0 or f < 0:
      continue
    if f not in parent:
      parent[f] = (c, line)
    elif parent[f][0] != c:
      first_coarse, first_line = parent[f]
      found.append(Problem(
          path, line,
          f"fine class {fine_names[f]!r} under coarse class {coarse_names[c]!r}, "
          f"but under {coarse_names[first_coarse]!r} at line {first_line}"))
  return found
