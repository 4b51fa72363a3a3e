"""Rebuilds a finished run from its model_dir: config, task and trained model.

evaluate, predict and export all start here, so a run is always restored the
same way: `config.json` -> Config -> the data source's DataSpec (class names,
input shape, splits; checked against `classes.json`) -> `model.build` (in the
run's --mixed_precision) -> `checkpoints/<best|last>.weights.h5`. Only a
finished run (one with `results.json`) is restored: the weights of a run
stopped halfway are not the run's. Ensemble members are restored so too, each
on its own data, and then checked to share the first member's task, input
shape and evaluated examples.
"""

import dataclasses
import hashlib
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
  vocabulary): an ensemble scores its members on one task."""
  recorded = classes_file.read(model_dir)
  differ = classes_file.differing_fields(recorded, spec)
  if differ:
    raise config_lib.ConfigError(
        f"the runs' tasks differ: {model_dir} was trained on "
        f"{recorded.get('dataset')} with {len(recorded.get('coarse_names', []))}"
        f" coarse and {len(recorded.get('fine_names', []))} fine classes, the "
        f"first run on {spec.name} with {len(spec.coarse_names)} and "
        f"{len(spec.fine_names)} ({', '.join(differ)} differ)")


def restore(model_dir, checkpoint="best"):
  """Rebuilds the model of `model_dir` and loads its weights.

  The task is loaded from the run's config and checked against its
  classes.json (config.ConfigError if the data changed since training).

  Args:
    model_dir: folder of a finished run.
    checkpoint: "best" or "last".

  Returns:
    Restored.
  """
  check_finished(model_dir)
  weights = checkpoint_path(model_dir, checkpoint)
  cfg = load_config(model_dir)
  spec = data_registry.load(cfg.data, cfg.train.seed)
  classes_file.check_unchanged(model_dir, spec)
  # Built as trained: a mixed-precision run is evaluated in its own precision.
  with runtime.precision_policy(cfg.runtime.mixed_precision):
    model = model_lib.build(cfg.model, cfg.loss, spec)
  try:
    model.load_weights(weights)
  except ValueError as error:
    raise config_lib.ConfigError(
        f"{weights} does not fit the model that {model_dir}'s config builds "
        f"for the task of {spec.name} with inputs {spec.input_shape} "
        f"({str(error).splitlines()[0]})") from error
  return Restored(model_dir=model_dir, cfg=cfg, spec=spec, model=model)


def restore_members(first, model_dirs, split, checkpoint="best"):
  """Restores the runs that join `first` in an ensemble scored on `split`.

  Each member is restored on its own data, as trained, and must hold the
  very `split` examples of `first`: the ensemble scores all members on those,
  and writes each member's numbers into its own folder as its `split`
  numbers.

  Args:
    first: the Restored first member.
    model_dirs: folders of the other members' finished runs.
    split: the split the ensemble is scored on.
    checkpoint: "best" or "last".

  Returns:
    [Restored], in the order of `model_dirs`.

  Raises:
    config.ConfigError: a member trained on another task or other inputs, or
      holding other `split` examples (a split carved by --validation_share,
      or drawn by the synthetic source, follows the run's --seed).
  """
  members = []
  first_fingerprint = None
  for model_dir in model_dirs:
    check_finished(model_dir)
    check_task(model_dir, first.spec)  # before loading data that may differ
    member = restore(model_dir, checkpoint)
    _check_inputs(member, first)
    if _may_hold_other_examples(member, first):
      if first_fingerprint is None:
        first_fingerprint = _fingerprint(first.spec.splits[split])
      if _fingerprint(member.spec.splits[split]) != first_fingerprint:
        raise config_lib.ConfigError(_other_examples(member, first, split))
    members.append(member)
  return members


def _fingerprint(split):
  """sha256 of a Split's inputs and labels, in order: equal for two loads of
  the same examples."""
  digest = hashlib.sha256()
  for labels in (split.coarse, split.fine):
    digest.update(labels.astype("<i4").tobytes())
  inputs = split.examples.map(lambda inputs, labels: inputs).batch(256)
  for batch in inputs.as_numpy_iterator():
    if batch.dtype == object:  # texts: bytes whose array holds pointers
      for text in batch:
        digest.update(len(text).to_bytes(8, "little") + text)
    else:
      digest.update(f"{batch.shape[1:]}{batch.dtype.str}".encode())
      digest.update(batch.tobytes())
  return digest.hexdigest()


def _check_inputs(member, first):
  # A backbone that pools globally (cnn, resnet) loads its weights at any
  # image size, so the shapes are compared, not left to the weights.
  if member.spec.input_shape != first.spec.input_shape:
    raise config_lib.ConfigError(
        f"the runs' inputs differ: {member.model_dir} was trained on inputs "
        f"{member.spec.input_shape}, the first run on "
        f"{first.spec.input_shape}")


def _may_hold_other_examples(member, first):
  # The same data config and seed load the same examples.
  return ((member.cfg.data, member.cfg.train.seed) !=
          (first.cfg.data, first.cfg.train.seed))


def _other_examples(member, first, split):
  """Why `member` is refused: its `split` is not `first`'s."""
  risk = ("some perhaps held out from its training" if split == "train"
          else "some perhaps from its own training split")
  return (
      f"the runs' {split} splits differ: {member.model_dir} holds other "
      f"{split} examples than the first run, {first.model_dir} "
      f"({_config_differences(member.cfg, first.cfg)}); scored on the first "
      f"run's, its {split} numbers would come from other examples, {risk}. "
      "Ensemble members must share the split they are scored on (a split "
      "carved by --validation_share, or drawn by the synthetic source, "
      "follows --seed)")


def _config_differences(cfg, first_cfg):
  """"--seed=1 where the first run has 0, ..." for the data flags and seed
  that differ."""
  values = [("seed", cfg.train.seed, first_cfg.train.seed)] + [
      (field.name, getattr(cfg.data, field.name),
       getattr(first_cfg.data, field.name))
      for field in dataclasses.fields(cfg.data)]
  return ", ".join(f"--{name}={value} where the first run has {first_value}"
                   for name, value, first_value in values
                   if value != first_value)
