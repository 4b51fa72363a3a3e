"""Exact resume: restored state, epoch-keyed data order, checkpoint keeping,
the NaN guard, atomic records, and a real SIGKILL in the middle of an epoch."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from research import checkpointing
from research import config
from research import model as model_lib
from research import guards
from research import summaries
from research import training
from research.data import pipeline
from research.data import registry as data_registry
from research.data import spec as spec_lib
from tests import helpers

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _trained_model(seed, dropout=0.5):
  keras.utils.set_random_seed(seed)
  spec = helpers.tiny_spec()
  model = model_lib.build(config.ModelConfig(width=8, dropout=dropout),
                          config.LossConfig(), spec)
  # Stands in for loss-layer state such as GHM EMA counts.
  model.coarse_loss.ema = model.coarse_loss.add_weight(
      name="ema", shape=(3,), trainable=False, initializer="zeros")
  model.compile(optimizer=keras.optimizers.Adam(
      keras.optimizers.schedules.CosineDecay(0.1, 100)))
  model.optimizer.build(model.trainable_variables)
  return spec, model


def _state_values(model, state):
  return ([v.numpy() for v in model.variables] +
          [v.numpy() for v in model.optimizer.variables] +
          [state.epoch.numpy(), state.best.numpy(), state.seconds.numpy()])


def test_restore_brings_back_every_variable_exactly(tmp_path):
  spec, model = _trained_model(seed=1)
  model.fit(spec.splits["train"].examples.batch(4), epochs=1, verbose=0,
            shuffle=False)
  model.head_loss_weights.assign([0.25, 2.0])
  model.coarse_loss.ema.assign([1.0, 2.0, 3.0])
  state = checkpointing.TrainingState(model, str(tmp_path), keep=2,
                                      best_mode="max")
  state.best.assign(0.625)
  state.save(3)
  saved = _state_values(model, state)

  _, fresh = _trained_model(seed=2)
  fresh_state = checkpointing.TrainingState(fresh, str(tmp_path), keep=2,
                                            best_mode="max")
  assert fresh_state.restore() == 3
  restored = _state_values(fresh, fresh_state)
  assert len(restored) == len(saved)
  for before, after in zip(saved, restored):
    np.testing.assert_array_equal(after, before)
  assert int(fresh.optimizer.iterations.numpy()) == 4  # LR schedule position


def test_wall_seconds_add_up_over_a_resume(tmp_path):
  # Process clocks are faked by `started`: 100 s before the checkpoint, then
  # a new process 5 s old.
  _, model = _trained_model(seed=1)
  state = checkpointing.TrainingState(model, str(tmp_path), keep=1,
                                      best_mode="max",
                                      started=time.perf_counter() - 100)
  state.save(1)
  _, fresh = _trained_model(seed=2)
  resumed = checkpointing.TrainingState(fresh, str(tmp_path), keep=1,
                                        best_mode="max",
                                        started=time.perf_counter() - 5)
  assert resumed.restore() == 1
  assert 105 <= resumed.wall_seconds() < 165


def test_a_checkpoint_from_before_runs_were_timed_still_resumes(tmp_path):
  _, model = _trained_model(seed=1)
  state = checkpointing.TrainingState(model, str(tmp_path), keep=1,
                                      best_mode="max")
  state.epoch.assign(2)
  untimed = tf.train.Checkpoint(  # what TrainingState saved before
      model_variables=list(model.variables), optimizer=model.optimizer,
      epoch=state.epoch, best=state.best)
  tf.train.CheckpointManager(untimed, str(tmp_path), max_to_keep=1,
                             checkpoint_name=checkpointing.STATE_PREFIX).save()
  _, fresh = _trained_model(seed=2)
  resumed = checkpointing.TrainingState(fresh, str(tmp_path), keep=1,
                                        best_mode="max",
                                        started=time.perf_counter())
  assert resumed.restore() == 2
  assert resumed.wall_seconds() < 60


def test_without_checkpoints_restore_starts_at_epoch_zero(tmp_path):
  _, model = _trained_model(seed=1)
  state = checkpointing.TrainingState(model, str(tmp_path), keep=1,
                                      best_mode="min")
  assert state.restore() == 0
  assert state.best.numpy() == np.inf


def _fake_epochs(callback, model, values):
  """Runs epoch ends with logged `values`, changing the weights each time;
  returns the weights at each epoch."""
  weights = []
  for epoch, value in enumerate(values):
    model.head_loss_weights.assign([float(epoch), 1.0])
    weights.append(model.head_loss_weights.numpy().copy())
    callback.on_epoch_end(epoch, {"val_fine/accuracy": value})
  return weights


def _checkpointed_epochs(tmp_path, mode, values, keep=1):
  """(model, weights at each epoch) after fake epochs logging `values` as
  val_fine/accuracy, checkpointed into tmp_path (state in tmp_path/ckpt)."""
  _, model = _trained_model(seed=1)
  state = checkpointing.TrainingState(model, str(tmp_path / "ckpt"), keep=keep,
                                      best_mode=mode)
  callback = checkpointing.EpochCheckpoints(state, str(tmp_path),
                                            "val_fine/accuracy")
  callback.set_model(model)
  return model, _fake_epochs(callback, model, values)


@pytest.mark.parametrize("mode, best_epoch", [("max", 2), ("min", 1)])
def test_best_weights_follow_the_metric_and_mode(tmp_path, mode, best_epoch):
  model, weights = _checkpointed_epochs(tmp_path, mode,
                                        [0.5, 0.25, 0.75, float("nan")], keep=2)
  model.load_weights(str(tmp_path / checkpointing.BEST_WEIGHTS))
  np.testing.assert_array_equal(model.head_loss_weights.numpy(),
                                weights[best_epoch])
  model.load_weights(str(tmp_path / checkpointing.LAST_WEIGHTS))
  np.testing.assert_array_equal(model.head_loss_weights.numpy(), weights[3])
  kept = sorted(f for f in os.listdir(tmp_path / "ckpt") if f.endswith("index"))
  assert kept == ["state-3.index", "state-4.index"]  # keep=2
  assert not [f for f in os.listdir(tmp_path) if f.startswith(".partial")]


def _best_of(tmp_path, mode, values):
  """(weights of best.weights.h5 or None, weights at each epoch) after fake
  epochs logging `values`."""
  model, weights = _checkpointed_epochs(tmp_path, mode, values)
  best = tmp_path / checkpointing.BEST_WEIGHTS
  if not best.exists():
    return None, weights
  model.load_weights(str(best))
  return model.head_loss_weights.numpy(), weights


@pytest.mark.parametrize("mode, values", [("max", [0.5, 0.75, 0.75]),
                                          ("min", [0.5, 0.25, 0.25])])
def test_a_tie_keeps_the_earlier_best(tmp_path, mode, values):
  # As Keras' ModelCheckpoint: only a value that beats the best replaces it.
  best, weights = _best_of(tmp_path, mode, values)
  np.testing.assert_array_equal(best, weights[1])


@pytest.mark.parametrize("mode, value", [("max", 0.0), ("max", -3.0),
                                         ("min", 1e30)])
def test_the_first_defined_value_is_the_best_so_far(tmp_path, mode, value):
  best, weights = _best_of(tmp_path, mode, [value])
  np.testing.assert_array_equal(best, weights[0])


def test_an_undefined_best_metric_never_improves_and_says_so(tmp_path,
                                                            caplog):
  model, weights = _checkpointed_epochs(tmp_path, "min",
                                        [float("nan"), 0.5, float("nan")])
  model.load_weights(str(tmp_path / checkpointing.BEST_WEIGHTS))
  np.testing.assert_array_equal(model.head_loss_weights.numpy(), weights[1])
  for epoch in (1, 3):
    assert (f"--best_metric=val_fine/accuracy is NaN after epoch {epoch} "
            "(undefined when no example has the labels it needs); "
            "best.weights.h5 is not updated") in caplog.text


def test_unlogged_best_metric_is_a_clear_error(tmp_path):
  _, model = _trained_model(seed=1)
  state = checkpointing.TrainingState(model, str(tmp_path), 1, "max")
  callback = checkpointing.EpochCheckpoints(state, str(tmp_path), "val_f1")
  callback.set_model(model)
  with pytest.raises(ValueError, match="--best_metric=val_f1 is not logged"):
    callback.on_epoch_end(0, {"val_loss": 1.0})


def _order(dataset):
  return np.concatenate([labels["fine"].numpy() for _, labels in dataset])


def test_data_order_is_keyed_by_seed_and_epoch_only():
  split = helpers.tiny_spec(size=40).splits["train"]
  epoch_1 = pipeline.batched(split, 8, training=True, seed=3, epoch=1)
  again = pipeline.batched(split, 8, training=True, seed=3, epoch=1)
  np.testing.assert_array_equal(_order(epoch_1), _order(again))
  np.testing.assert_array_equal(_order(epoch_1), _order(epoch_1))
  epoch_2 = _order(pipeline.batched(split, 8, training=True, seed=3, epoch=2))
  assert not np.array_equal(_order(epoch_1), epoch_2)
  np.testing.assert_array_equal(np.sort(epoch_2), np.sort(split.fine))
  whole = _order(pipeline.training_epochs(split, 8, seed=3, first_epoch=0,
                                          epochs=3))
  resumed = _order(pipeline.training_epochs(split, 8, seed=3, first_epoch=2,
                                            epochs=3))
  np.testing.assert_array_equal(resumed, whole[80:])


def test_guard_names_the_step_and_the_head():
  guard = guards.NonFiniteLossGuard(steps_per_epoch=5)
  guard.on_epoch_begin(2)
  guard.on_train_batch_end(0, {"loss": 1.0, "coarse/loss": 0.5,
                               "fine/loss": 0.5})
  with pytest.raises(guards.NonFiniteLossError) as error:
    guard.on_train_batch_end(3, {"loss": np.inf, "coarse/loss": 0.5,
                                 "fine/loss": np.float32("nan")})
  message = str(error.value)
  assert "training step 14 (epoch 3, batch 4/5)" in message
  assert "in head fine:" in message and "coarse" not in message


def test_guard_names_the_steps_of_one_execution():
  # --steps_per_execution=4: one callback for batches 4-7 of epoch 1.
  guard = guards.NonFiniteLossGuard(steps_per_epoch=8)
  guard.on_epoch_begin(0)
  guard.on_train_batch_begin(4)
  with pytest.raises(guards.NonFiniteLossError,
                     match=r"training steps 5-8 \(epoch 1, batches 5-8/8, one "
                           r"--steps_per_execution call\)"):
    guard.on_train_batch_end(7, {"loss": np.inf, "coarse/loss": np.inf,
                                 "fine/loss": 0.5})


def test_guard_lets_a_head_without_labels_yet_train_on():
  # The first batch has no coarse label: coarse/loss is NaN (undefined) until
  # the second, while the objective stays finite.
  spec = helpers.tiny_spec(size=16)
  features, labels = helpers.first_batch(spec.splits["train"], 16)
  coarse = np.where(np.arange(16) < 8, -1, labels["coarse"])
  train = spec_lib.split_from_arrays(features, coarse, labels["fine"])
  keras.utils.set_random_seed(1)
  model = helpers.tiny_model(spec)
  model.compile(optimizer=keras.optimizers.SGD(0.1))
  first_logs = []
  logged = keras.callbacks.LambdaCallback(
      on_train_batch_end=lambda batch, logs: first_logs.append(dict(logs)))
  model.fit(train.examples.batch(8), epochs=1, verbose=0, shuffle=False,
            callbacks=[guards.NonFiniteLossGuard(steps_per_epoch=2), logged])
  assert np.isnan(first_logs[0]["coarse/loss"])
  assert np.isfinite(first_logs[0]["loss"])
  assert np.isfinite(first_logs[1]["coarse/loss"])


class _Preempted(Exception):
  pass


def _crash_after_saving_epoch(monkeypatch, epoch):
  save = checkpointing.TrainingState.save

  def save_then_crash(state, finished_epochs):
    path = save(state, finished_epochs)
    if finished_epochs == epoch:
      raise _Preempted()
    return path

  monkeypatch.setattr(checkpointing.TrainingState, "save", save_then_crash)


def _preempted_after_epoch_1(tmp_path, monkeypatch, spec, epochs):
  """The Config of a tiny run on `spec` that was preempted right after
  checkpointing its first epoch."""
  cfg = config.Config().replace(
      model={"width": 8}, train={"epochs": epochs, "batch_size": 4},
      runtime={"verbose": 0})
  monkeypatch.setattr(data_registry, "load", lambda cfg, seed: spec)
  with monkeypatch.context() as preemption:
    _crash_after_saving_epoch(preemption, epoch=1)
    with pytest.raises(_Preempted):
      training.run(cfg, str(tmp_path))
  return cfg


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch):
  good = helpers.tiny_spec()
  cfg = _preempted_after_epoch_1(tmp_path, monkeypatch, good, epochs=2)
  last = tmp_path / "checkpoints" / checkpointing.LAST_WEIGHTS
  before = last.read_bytes()

  features, labels = helpers.first_batch(good.splits["train"], 16)
  features[5, 0] = np.nan
  poisoned = dataclasses.replace(good, splits=dict(
      good.splits, train=spec_lib.split_from_arrays(
          features, labels["coarse"], labels["fine"])))
  monkeypatch.setattr(data_registry, "load", lambda cfg, seed: poisoned)
  with pytest.raises(guards.NonFiniteLossError,
                     match=r"training step \d+ \(epoch 2, batch \d/4\) in "
                           r"head coarse and fine"):
    training.run(cfg, str(tmp_path))  # resumes at epoch 2, then meets the NaN
  assert last.read_bytes() == before
  model = helpers.tiny_model(good)
  model.load_weights(str(last))
  assert all(np.isfinite(w.numpy()).all() for w in model.weights)
  assert not (tmp_path / "results.json").exists()


def test_a_kill_right_after_a_checkpoint_loses_no_tensorboard_point(
    tmp_path, monkeypatch):
  cfg = _preempted_after_epoch_1(tmp_path, monkeypatch, helpers.tiny_spec(),
                                 epochs=3)
  training.run(cfg, str(tmp_path))  # resumes at the second epoch
  for split in ("train", "validation"):
    assert len(helpers.epoch_scalars(str(tmp_path / split), "loss")) == 3


def test_records_survive_a_failed_write_and_keep_their_mode(tmp_path,
                                                             monkeypatch):
  path = str(tmp_path / "results.json")
  summaries.write_json(path, {"fine/accuracy": 0.5})
  assert os.stat(path).st_mode & 0o777 == 0o644
  os.chmod(path, 0o640)

  def failing_replace(source, target):
    raise OSError("disk full")

  with monkeypatch.context() as patches:
    patches.setattr(summaries.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
      summaries.write_json(path, {"fine/accuracy": 0.9})
  assert os.listdir(tmp_path) == ["results.json"]  # no temp file left
  with open(path) as handle:
    assert json.load(handle) == {"fine/accuracy": 0.5}
  summaries.write_text(path, "{}\n")
  assert os.stat(path).st_mode & 0o777 == 0o640


# ---- a real process, killed with SIGKILL in the middle of an epoch

_EPOCHS = 3
_STEPS_PER_EPOCH = 3000 // 16 + 1  # 188
# The kill lands in epoch 2: the resumed process starts inside the warmup.
_WARMUP_STEPS = int(1.5 * _STEPS_PER_EPOCH)  # 282


def _command(model_dir):
  return [sys.executable, "-m", "research.train", "--deterministic",
          "--synthetic_train_size=3000", "--batch_size=16", "--width=32",
          "--warmup_epochs=1.5",
          f"--epochs={_EPOCHS}", f"--model_dir={model_dir}", "--verbose=2"]


def _start(model_dir, log_path):
  env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
  log = open(log_path, "w")  # pylint: disable=consider-using-with
  return subprocess.Popen(_command(model_dir), cwd=_ROOT, env=env,
                          stdout=log, stderr=subprocess.STDOUT)


def _finish(process, timeout=300):
  assert process.wait(timeout=timeout) == 0, "training process failed"


def _kill_inside_epoch_2(process, model_dir, log_path, timeout=300):
  """SIGKILLs `process` once epoch 1 is checkpointed and epoch 2 is running."""
  checkpoint = os.path.join(model_dir, "checkpoints", "state-1.index")
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline and process.poll() is None:
    with open(log_path) as log:
      started = f"Epoch 2/{_EPOCHS}" in log.read()
    if started and os.path.exists(checkpoint):
      time.sleep(0.2)
      break
    time.sleep(0.02)
  process.send_signal(signal.SIGKILL)
  process.wait()
  with open(log_path) as log:
    epoch_2 = log.read().split(f"Epoch 2/{_EPOCHS}")[-1]
  return "val_loss" not in epoch_2  # its end-of-epoch line never came


def _metrics(model_dir):
  with open(os.path.join(model_dir, "results.json")) as handle:
    results = json.load(handle)
  return results, {f"{split}/{name}": value
                   for split in ("test", "validation")
                   for name, value in results[split].items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Two uninterrupted runs and one killed in epoch 2 then rerun."""
  root = tmp_path_factory.mktemp("resume")
  dirs = {name: str(root / name) for name in ("first", "second", "killed")}
  logs = {name: str(root / f"{name}.log") for name in dirs}
  processes = [_start(dirs["first"], logs["first"]),
               _start(dirs["killed"], logs["killed"])]
  try:
    killed_mid_epoch = _kill_inside_epoch_2(processes[1], dirs["killed"],
                                            logs["killed"])
    processes += [_start(dirs[name], logs[name] + ".rerun")
                  for name in ("killed", "second")]
    for process in processes[:1] + processes[2:]:
      _finish(process)
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
        process.wait()
  return dirs, killed_mid_epoch


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_results(runs):
  dirs, killed_mid_epoch = runs
  assert killed_mid_epoch, "the kill landed outside epoch 2; retry"
  uninterrupted, expected = _metrics(dirs["first"])
  resumed, actual = _metrics(dirs["killed"])
  assert uninterrupted["resumed_from_epoch"] == 0
  assert resumed["resumed_from_epoch"] == 1
  diff = max(abs(actual[name] - value) for name, value in expected.items())
  print(f"killed-and-resumed vs uninterrupted: max abs diff {diff:.2e}")
  assert actual == expected  # tolerance 0: bit-identical with --deterministic


@pytest.mark.slow
def test_a_resume_inside_the_warmup_logs_each_epochs_rate(runs):
  # Rate of each epoch's first step: warmup peak * (k + 1) / W, then cosine
  # over the steps after it; the resumed process continues the schedule.
  dirs, _ = runs
  total = _EPOCHS * _STEPS_PER_EPOCH
  expected = []
  for step in np.arange(_EPOCHS) * _STEPS_PER_EPOCH:
    if step < _WARMUP_STEPS:
      expected.append(1e-3 * (step + 1) / _WARMUP_STEPS)
    else:
      expected.append(1e-3 * 0.5 * (1 + np.cos(
          np.pi * (step - _WARMUP_STEPS) / (total - _WARMUP_STEPS))))
  for name in ("first", "killed"):
    logged = helpers.epoch_scalars(os.path.join(dirs[name], "train"),
                                   "learning_rate")
    np.testing.assert_allclose(logged, expected, rtol=1e-6, err_msg=name)


@pytest.mark.slow
def test_deterministic_runs_give_identical_results(runs):
  dirs, _ = runs
  assert _metrics(dirs["second"])[1] == _metrics(dirs["first"])[1]
