"""Copies generated ablation tables into README.md, so none is typed by hand.

README holds blocks between `<!-- table: experiments/results/<study>/table.md -->`
and `<!-- end table -->`; `python -m experiments.readme_tables` replaces each
block with the markdown table (the `|` lines) of that generated file. A test
fails when README and a table file disagree.
"""

import os
import re
import sys

from research import summaries

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = re.compile(r"(<!-- table: (\S+) -->\n)(.*?)(<!-- end table -->)",
                   re.DOTALL)


def table_lines(path):
  """The markdown table of a generated table.md, as one string.

  Raises:
    ValueError naming `path` if it is missing or holds no table.
  """
  if not os.path.isfile(path):
    raise ValueError(f"README names the table {path}, which does not exist")
  with open(path) as handle:
    lines = "".join(line for line in handle if line.startswith("|"))
  if not lines:
    raise ValueError(f"{path} holds no markdown table")
  return lines


def synced(readme_text, root=ROOT):
  """README text with every table block refreshed from its file."""
  return BLOCK.sub(
      lambda match: (match.group(1) +
                     table_lines(os.path.join(root, match.group(2))) +
                     match.group(4)),
      readme_text)


def main(root=ROOT):
  """Rewrites <root>/README.md atomically; a missing or empty table file
  stops it with one error line before README is touched."""
  path = os.path.join(root, "README.md")
  with open(path) as handle:
    text = handle.read()
  try:
    text = synced(text, root)
  except ValueError as error:
    sys.exit(f"error: {error}")
  summaries.write_text(path, text)


if __name__ == "__main__":
  sys.exit(main())
