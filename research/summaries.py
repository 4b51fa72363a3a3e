"""Run records: config.json, results.json, per-head TensorBoard scalars, HParams.

Records are written atomically (temp file + rename) so a preempted run never
leaves a half-written record behind.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time

import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from research import config as config_lib

# The runtime fields that change what a run computes: its numbers
# (mixed_precision) or which checkpoint is "best". The other runtime fields say
# where and how a run ran (strategy, XLA, verbosity, ...) and may change
# between a run and its resume.
RESULT_RUNTIME_FIELDS = ("mixed_precision", "best_metric", "best_mode")


def write_text(path, text):
  """Writes `text` to `path` atomically: the old file stays whole until the
  new one is complete, and a failed write leaves no temp file behind."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  handle = tempfile.NamedTemporaryFile("w", dir=folder, delete=False,
                                       suffix=".tmp", encoding="utf-8")
  try:
    with handle:
      handle.write(text)
    # The temp file is private (0600); the record keeps the old file's mode.
    if os.path.exists(path):
      shutil.copymode(path, handle.name)
    else:
      os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)
  except BaseException:
    os.remove(handle.name)
    raise


def read_json(path):
  with open(path, encoding="utf-8") as handle:
    return json.load(handle)


def write_json(path, payload):
  """Writes `payload` as JSON to `path` atomically."""
  write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def check_model_dir(model_dir, config_dict):
  """Raises config.ConfigError if `model_dir` holds a different run.

  A folder holding the same run (or none) passes. Runtime fields outside
  RESULT_RUNTIME_FIELDS (strategy, verbosity, ...) may differ: they do not
  change results.
  """
  path = os.path.join(model_dir, "config.json")
  if os.path.exists(path):
    differences = differences_from_recorded(path, config_dict)
    if differences:
      raise config_lib.ConfigError(
          f"{path} records a different configuration "
          f"({'; '.join(differences)}); use a new "
          "--model_dir (or the same flags to resume that run)")


def claim_model_dir(model_dir, config_dict):
  """Records the config in `model_dir`, refusing to mix two different runs.

  A folder holding the same run is a resume and is reused; one holding a
  different run is left untouched and the run stops (`check_model_dir`), so
  nothing another run wrote is overwritten.
  """
  check_model_dir(model_dir, config_dict)
  write_json(os.path.join(model_dir, "config.json"), config_dict)


def differences_from_recorded(path, config_dict):
  """["--flag: 'old' recorded, 'new' now", ...] for every field that defines
  results (see `run_identity`) and differs between the config.json at `path`
  and `config_dict`.

  A field the recorded config lacks was recorded before the field existed
  and reads as its default: what the older code did.

  Raises:
    config.ConfigError naming `path` if it is not a config.json.
  """
  try:
    with open(path, encoding="utf-8") as handle:
      recorded = config_lib.Config.from_json(handle.read()).as_dict()
  except (ValueError, TypeError, UnicodeDecodeError) as error:
    raise config_lib.ConfigError(
        f"{path} is not a run's config.json ({error})") from None
  return _differences(run_identity(_as_json(recorded)),
                      run_identity(_as_json(config_dict)))


def _as_json(config_dict):
  """`config_dict` as it reads back from JSON (tuples become lists)."""
  return json.loads(json.dumps(config_dict))


def run_identity(config_dict):
  """The sections and fields of a config dict that define a run's results."""
  identity = {k: v for k, v in config_dict.items() if k != "runtime"}
  runtime = config_dict.get("runtime", {})
  identity["runtime"] = {name: runtime[name] for name in RESULT_RUNTIME_FIELDS
                         if name in runtime}
  return identity


def _differences(recorded, current):
  """["--flag: 'old' recorded, 'new' now", ...] for every field that differs."""
  fields = sorted({(section, name) for identity in (recorded, current)
                   for section, names in identity.items() for name in names})
  return [f"--{name}: {recorded.get(section, {}).get(name)!r} recorded, "
          f"{current.get(section, {}).get(name)!r} now"
          for section, name in fields
          if recorded.get(section, {}).get(name)
          != current.get(section, {}).get(name)]


class EpochScalars(keras.callbacks.Callback):
  """Writes every epoch log under its own tag: `coarse/loss`, `fine/accuracy`.

  Training values go to `<log_dir>/train`, `val_*` values to
  `<log_dir>/validation`, so the tag names match the metric names exactly
  (the stock TensorBoard callback prefixes them with `epoch_`).
  """

  def __init__(self, log_dir):
    super().__init__()
    self.writers = {split: tf.summary.create_file_writer(
        os.path.join(log_dir, split)) for split in ("train", "validation")}

  def on_epoch_end(self, epoch, logs=None):
    for name, value in (logs or {}).items():
      split, tag = ("validation", name[4:]) if name.startswith("val_") else (
          "train", name)
      with self.writers[split].as_default():
        tf.summary.scalar(tag, value, step=epoch)
    for writer in self.writers.values():
      writer.flush()

  def on_train_end(self, logs=None):
    for writer in self.writers.values():
      writer.close()


class Throughput(keras.callbacks.Callback):
  """Measures training steps per second, leaving out the first epoch this
  process runs (it traces and compiles the step). A run of one epoch is
  timed on it, so all seeds of a one-epoch study are alike; a resumed
  process with one epoch left times nothing (steps_per_second None) rather
  than report a rate that includes compiling beside its seeds' rates that
  do not.

  Counts steps from the batch indices Keras passes, not from the number of
  callbacks, so it stays right with steps_per_execution > 1.
  """

  def __init__(self):
    super().__init__()
    self.steps = 0
    self.seconds = 0.0
    self._start = self._last = None
    self._epoch_steps = 0
    self._first_epoch = None

  def on_epoch_begin(self, epoch, logs=None):
    if self._first_epoch is None:
      self._first_epoch = epoch  # > 0 when a run resumes
    self._start = None
    self._epoch_steps = 0

  def on_train_batch_begin(self, batch, logs=None):
    if self._start is None:
      self._start = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    # With steps_per_execution N, one call covers N steps and `batch` is the
    # index of its last step (past the end for a short final call).
    steps_in_epoch = self.params.get("steps") or batch + 1
    self._epoch_steps = min(batch + 1, steps_in_epoch)
    self._last = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    epochs_run_here = self.params.get("epochs", 1) - self._first_epoch
    resumed = self._first_epoch > 0
    if epoch == self._first_epoch and (epochs_run_here > 1 or resumed):
      return
    self.steps += self._epoch_steps
    self.seconds += self._last - self._start

  @property
  def steps_per_second(self):
    """Steps/s, or None if this process trained no step (a finished run)."""
    return self.steps / self.seconds if self.seconds else None


def ablation_axes(cfg_dict):
  """Flag name -> value of every ablation axis of a run, as HParams values.

  The axes are the fields of `run_identity`: every section but runtime, and
  the runtime fields that change results (RESULT_RUNTIME_FIELDS).

  Args:
    cfg_dict: `Config.as_dict()`; field names equal flag names.

  Returns:
    {flag: bool | int | float | str}; sequences become comma-joined strings;
    unset (None) flags are left out, as HParams has no null value.
  """
  axes = {}
  for fields in run_identity(cfg_dict).values():
    for name, value in fields.items():
      if value is None:
        continue
      if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
      axes[name] = value
  return axes


def write_hparams(log_dir, axes, test_metrics, step):
  """Logs a run's axes to the HParams plugin and its test metrics beside them.

  The session is `log_dir`; the plugin finds the metrics as the scalars of
  its `train/`, `validation/` and (written here) `test/` folders, so
  `tensorboard --logdir <sweep folder>` compares every run in one table.
  Runs that differ only in their seed share a trial id, so the plugin groups
  them and can show the mean (or min/max) over seeds.
  """
  setting = {name: value for name, value in axes.items() if name != "seed"}
  trial_id = hashlib.sha1(
      json.dumps(setting, sort_keys=True).encode()).hexdigest()[:12]
  session_writer = tf.summary.create_file_writer(log_dir)
  with session_writer.as_default():
    hparams_api.hparams(axes, trial_id=trial_id)
  session_writer.close()
  test_writer = tf.summary.create_file_writer(os.path.join(log_dir, "test"))
  with test_writer.as_default():
    for name, value in test_metrics.items():
      tf.summary.scalar(name, value, step=step)
  test_writer.close()
