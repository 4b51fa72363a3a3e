"""Study definitions: each module holds one `STUDY` dict, run by experiments.run.

A study is data:
  description: one paragraph saying what the table answers.
  base: {flag: value} given to every cell (research.train flags).
  grid: either {flag: [values]} (every combination is a cell) or a list of
    {flag: value} cells, for grids that are not a full product.
  seeds: list of `--seed` values; each cell runs once per seed.
The runner owns `--seed` and `--model_dir`; a study may not set them.
"""
