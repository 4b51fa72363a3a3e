"""Loads a study (see experiments/studies/__init__.py), checks it, expands its cells.

Every cell's full command line is parsed by a copy of `research.flags` before
anything runs, so a misspelt flag, an unknown enum value or a value a validator
rejects stops the sweep at once with the study file and the flag named.
"""

import copy
import dataclasses
import importlib
import importlib.util
import itertools
import os
import re

from absl import flags as absl_flags

from research import flags as research_flags

STUDIES_DIR = os.path.join(os.path.dirname(__file__), "studies")
RUNNER_FLAGS = ("seed", "model_dir")  # the runner sets these per run
_KEYS = {"description", "base", "grid", "seeds"}


@dataclasses.dataclass(frozen=True)
class Cell:
  """One setting of a study: its name (a folder name) and its flag values.

  `settings` holds every axis of the study, so cells of a list-shaped grid
  that leave an axis out still show the value they ran with.
  """
  name: str
  settings: dict


@dataclasses.dataclass(frozen=True)
class Study:
  name: str
  path: str
  description: str
  base: dict
  axes: tuple
  cells: tuple
  seeds: tuple
  changed_by_overrides: tuple = ()  # flags the command line changed

  def train_flags(self, cell, seed):
    """`--flag=value` arguments of `research.train` for one cell and seed."""
    values = {**self.base, **cell.settings, "seed": seed}
    return [f"--{name}={flag_text(value)}" for name, value in values.items()]


def flag_text(value):
  """A flag value as the command line spells it (lists comma-joined)."""
  if isinstance(value, (list, tuple)):
    return ",".join(str(v) for v in value)
  return str(value).lower() if isinstance(value, bool) else str(value)


def available():
  """Names of the studies in experiments/studies/."""
  return sorted(name[:-3] for name in os.listdir(STUDIES_DIR)
                if name.endswith(".py") and not name.startswith("_"))


def load(name_or_path, overrides=None):
  """Loads, checks and expands a study.

  Args:
    name_or_path: a module name in experiments/studies/ ("losses") or the path
      of a .py file holding a `STUDY` dict.
    overrides: {flag: value} from the runner's command line; may not touch a
      grid axis. Those that change a value the study runs with are merged
      into the base of every cell and listed in
      `Study.changed_by_overrides`; the others change nothing.

  Returns:
    Study.

  Raises:
    ValueError naming the study file and the offending key or flag.
  """
  path, raw = _read(name_or_path)
  unknown = set(raw) - _KEYS
  missing = {"base", "grid", "seeds"} - set(raw)
  if unknown or missing:
    raise ValueError(f"{path}: STUDY keys {sorted(unknown)} unknown, "
                     f"{sorted(missing)} missing; expected {sorted(_KEYS)}")
  _check_seeds(path, raw["seeds"])
  grid = _grid_cells(path, raw["grid"])
  axes = tuple(dict.fromkeys(name for cell in grid for name in cell))
  clashes = set(overrides or {}) & set(axes)
  if clashes:
    raise ValueError(f"{path}: cannot override grid axes {sorted(clashes)} "
                     "from the command line")
  base = {**raw["base"], **(overrides or {})}
  defaults = {name: _default(path, base, name) for name in axes}
  cells = tuple(Cell(cell_name(cell), {**defaults, **cell}) for cell in grid)
  if len({c.name for c in cells}) != len(cells):
    raise ValueError(f"{path}: two grid cells have the same flag values")
  name = os.path.splitext(os.path.basename(path))[0]
  study = Study(name=name, path=path, description=raw.get("description", ""),
                base=base, axes=axes, cells=cells,
                seeds=tuple(raw["seeds"]))
  validate(study)  # first: _changes parses the values it checked
  changing = {name: value for name, value in (overrides or {}).items()
              if _changes(raw["base"], name, value)}
  # An override that changes nothing stays off the command lines too, which
  # the finished runs' records must match to be reused.
  return dataclasses.replace(study, base={**raw["base"], **changing},
                             changed_by_overrides=tuple(changing))


def shadows_shipped(study):
  """True if `study` is a file elsewhere that has a shipped study's name (its
  table and runs would land in that study's committed folders)."""
  shipped = os.path.join(STUDIES_DIR, f"{study.name}.py")
  return (study.name in available() and
          os.path.realpath(study.path) != os.path.realpath(shipped))


def _check_seeds(path, seeds):
  """Seeds are distinct integers in --seed's range: a repeated seed would run
  one folder twice and count it twice in the table."""
  expected = "expected a list of distinct integers like [0, 1, 2]"
  if not isinstance(seeds, (list, tuple)) or not seeds:
    raise ValueError(f"{path}: seeds is {seeds!r}; {expected}")
  for seed in seeds:
    if isinstance(seed, bool) or not isinstance(seed, int):
      raise ValueError(f"{path}: seed {seed!r} is not an integer; {expected}")
    if not 0 <= seed <= research_flags.MAX_SEED:
      raise ValueError(f"{path}: seed {seed} is outside 0..."
                       f"{research_flags.MAX_SEED}")
  repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
  if repeated:
    raise ValueError(f"{path}: seeds {repeated} repeated; {expected}")


def _read(name_or_path):
  if name_or_path.endswith(".py"):
    path = name_or_path
    if not os.path.isfile(path):
      raise ValueError(f"study file {path} does not exist")
    module_spec = importlib.util.spec_from_file_location("_study", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
  else:
    path = os.path.join(STUDIES_DIR, f"{name_or_path}.py")
    if name_or_path not in available():
      raise ValueError(f"unknown study {name_or_path!r}; expected one of "
                       f"{available()} or the path of a .py file")
    module = importlib.import_module(f"experiments.studies.{name_or_path}")
  if not isinstance(getattr(module, "STUDY", None), dict):
    raise ValueError(f"{path}: expected a dict named STUDY")
  return path, module.STUDY


def _grid_cells(path, grid):
  if isinstance(grid, dict):
    names = list(grid)
    return [dict(zip(names, values))
            for values in itertools.product(*grid.values())]
  if isinstance(grid, list) and all(isinstance(c, dict) for c in grid):
    return [dict(cell) for cell in grid]
  raise ValueError(f"{path}: grid must be {{flag: [values]}} or a list of "
                   "{flag: value} cells")


def _default(path, base, name):
  if name in base:
    return base[name]
  _check_defined(path, name)
  return research_flags.FLAGS[name].default


def _check_defined(path, name):
  if name not in research_flags.FLAGS:
    raise ValueError(f"{path}: unknown flag --{name} (not defined in "
                     "research/flags.py)")


def _changes(base, name, value):
  """True if `--name=value` makes the study run something else than `base`
  (or, where the base has no value, the flag's default) does, as the flag's
  parser reads both."""
  flag = research_flags.FLAGS[name]
  current = base[name] if name in base else flag.default
  if current is None or value is None:  # unset: no text to parse
    return current is not value
  return (flag.parser.parse(flag_text(value)) !=
          flag.parser.parse(flag_text(current)))


def cell_name(settings):
  """Folder name of a cell: `loss-focal__head-joint` (unsafe characters -> _)."""
  parts = [f"{name}-{flag_text(value)}" for name, value in settings.items()]
  return re.sub(r"[^A-Za-z0-9._-]", "_", "__".join(parts)) or "base"


def validate(study):
  """Parses every cell's command line with a copy of research.flags.

  Raises:
    ValueError: `<study file>: cell <name>: <what absl said>`, or naming a
      flag the runner owns or one that is not a research.train flag.
  """
  train_flags = {n for names in research_flags.GROUPS.values() for n in names}
  for name in [*study.base, *study.axes]:
    if name in RUNNER_FLAGS:
      raise ValueError(f"{study.path}: --{name} is set by the runner per run; "
                       "neither a study nor the runner's command line may "
                       "set it")
    _check_defined(study.path, name)
    if name not in train_flags:
      raise ValueError(f"{study.path}: --{name} is not a research.train flag")
  for cell in study.cells:
    parser = copy.deepcopy(research_flags.FLAGS)
    try:
      parser(["train", *study.train_flags(cell, study.seeds[0])])
    except absl_flags.Error as error:
      raise ValueError(f"{study.path}: cell {cell.name}: {error}") from None
