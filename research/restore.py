"""Rebuilds a finished run from its model_dir: config, task and trained model.

evaluate, predict and export all start here, so a run is always restored the
same way: `config.json` -> Config -> the data source's DataSpec (class names,
input shape, splits; checked against `classes.json`) -> `model.build` (in the
run's --mixed_precision) -> `checkpoints/<best|last>.weights.h5`. Only a
finished run (one with `results.json`) is restored: the weights of a run
stopped halfway are not the run's.
"""

import dataclasses
import os

from research import config as config_lib
from research import model as model_lib
from research import runtime
from research.data import classes_file
from research.data import registry as data_registry

CHECKPOINTS = ("best", "last")


@dataclasses.dataclass(frozen=True)
class Restored:
  """A trained run: its frozen config, its task and its model with weights."""
  model_dir: str
  cfg: config_lib.Config
  spec: object  # data.spec.DataSpec
  model: object  # model.TwoHeadModel


def check_finished(model_dir):
  """Raises FileNotFoundError unless `model_dir` holds a finished run: one
  whose results.json research.train wrote after testing its last epoch."""
  path = os.path.join(model_dir, "results.json")
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"{path}: missing, so {model_dir} is not a finished run "
        "(research.train writes results.json when a run's last epoch is "
        "tested)")


def checkpoint_path(model_dir, checkpoint):
  """Path of the `best` or `last` weights; raises naming what is missing."""
  if checkpoint not in CHECKPOINTS:
    raise ValueError(f"--checkpoint={checkpoint!r}: expected one of "
                     f"{list(CHECKPOINTS)}")
  path = os.path.join(model_dir, "checkpoints", f"{checkpoint}.weights.h5")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: no {checkpoint} checkpoint in the "
                            f"finished run {model_dir}")
  return path


def describe_checkpoint(checkpoint, runtime_cfg):
  """Which weights `checkpoint` holds, in words, for the tools' output.

  Args:
    checkpoint: "best" or "last".
    runtime_cfg: the run's config.RuntimeConfig (its best_metric, best_mode).
  """
  if checkpoint == "last":
    return "last weights (final epoch)"
  extreme = "highest" if runtime_cfg.best_mode == "max" else "lowest"
  return f"best weights ({extreme} {runtime_cfg.best_metric})"


def load_config(model_dir):
  """The Config a run was trained with, from `model_dir/config.json`."""
  path = os.path.join(model_dir, "config.json")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: missing; expected the config.json that "
                            "research.train writes into every model_dir")
  with open(path) as handle:
    return config_lib.Config.from_json(handle.read())


def check_task(model_dir, spec):
  """Raises config.ConfigError unless the run in `model_dir` was trained on
  the task of `spec` (same source, class names, fine->coarse map and
  vocabulary), whose spec it is about to share: an ensemble scores its
  members on one task."""
  recorded = classes_file.read(model_dir)
  differ = classes_file.differing_fields(recorded, spec)
  if differ:
    raise config_lib.ConfigError(
        f"the runs' tasks differ: {model_dir} was trained on "
        f"{recorded.get('dataset')} with {len(recorded.get('coarse_names', []))}"
        f" coarse and {len(recorded.get('fine_names', []))} fine classes, the "
        f"first run on {spec.name} with {len(spec.coarse_names)} and "
        f"{len(spec.fine_names)} ({', '.join(differ)} differ)")


def restore(model_dir, checkpoint="best", spec=None):
  """Rebuilds the model of `model_dir` and loads its weights.

  Args:
    model_dir: folder of a finished run.
    checkpoint: "best" or "last".
    spec: the run's DataSpec if already loaded (ensemble members trained on
      the same task share it; config.ConfigError if the run's task differs);
      loaded from the config otherwise, and checked against the run's
      classes.json (config.ConfigError if the data changed since training).

  Returns:
    Restored.
  """
  check_finished(model_dir)
  weights = checkpoint_path(model_dir, checkpoint)
  cfg = load_config(model_dir)
  if spec is None:
    spec = data_registry.load(cfg.data, cfg.train.seed)
    classes_file.check_unchanged(model_dir, spec)
  else:
    check_task(model_dir, spec)
  # Built as trained: a mixed-precision run is evaluated in its own precision.
  with runtime.precision_policy(cfg.runtime.mixed_precision):
    model = model_lib.build(cfg.model, cfg.loss, spec)
  try:
    model.load_weights(weights)
  except ValueError as error:
    # With a shared spec: a member whose inputs differ from the first run's.
    raise config_lib.ConfigError(
        f"{weights} does not fit the model that {model_dir}'s config builds "
        f"for the task of {spec.name} with inputs {spec.input_shape} "
        f"({str(error).splitlines()[0]})") from error
  return Restored(model_dir=model_dir, cfg=cfg, spec=spec, model=model)
