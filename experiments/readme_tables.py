"""Copies generated ablation tables into README.md, so none is typed by hand.

README holds blocks between `<!-- table: experiments/results/<study>/table.md -->`
and `<!-- end table -->`; `python -m experiments.readme_tables` replaces each
block with the markdown table (the `|` lines) of that generated file. A test
fails when README and a table file disagree.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = re.compile(r"(<!-- table: (\S+) -->\n)(.*?)(<!-- end table -->)",
                   re.DOTALL)


def table_lines(path):
  """The markdown table of a generated table.md, as one string."""
  with open(path) as handle:
    return "".join(line for line in handle if line.startswith("|"))


def synced(readme_text, root=ROOT):
  """README text with every table block refreshed from its file."""
  return BLOCK.sub(
      lambda match: (match.group(1) +
                     table_lines(os.path.join(root, match.group(2))) +
                     match.group(4)),
      readme_text)


def main():
  path = os.path.join(ROOT, "README.md")
  with open(path) as handle:
    text = handle.read()
  with open(path, "w") as handle:
    handle.write(synced(text))


if __name__ == "__main__":
  sys.exit(main())
