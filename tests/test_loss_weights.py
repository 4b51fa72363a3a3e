"""Loss-weight schedules: parsing, the epochs they switch at, resuming, and the
TensorBoard record; plus the flag validators for heads and losses."""

import copy
import os

from absl import flags
import keras
import numpy as np
import pytest
import tensorflow as tf

from research import checkpointing
from research import config
from research import flags as flags_lib
from research import loss_weights
from research import summaries
from tests import helpers

SCHEDULE = "0:0.9/0.1,2:0.5/0.5,3:0.1/0.9"


def test_parse_and_weights_at_each_epoch():
  schedule = loss_weights.parse(SCHEDULE)
  assert schedule == ((0, 0.9, 0.1), (2, 0.5, 0.5), (3, 0.1, 0.9))
  seen = [loss_weights.weights_at(schedule, epoch) for epoch in range(5)]
  assert seen == [(0.9, 0.1), (0.9, 0.1), (0.5, 0.5), (0.1, 0.9), (0.1, 0.9)]
  static = config.LossConfig(loss_weights=(0.3, 2.0))
  assert loss_weights.for_config(static) == ((0, 0.3, 2.0),)


@pytest.mark.parametrize("text, message", [
    ("0:0.9", "bad entry '0:0.9'"),
    ("1:0.5/0.5", "first entry must be for epoch 0"),
    ("0:1/1,3:1/1,2:1/1", "epochs must increase"),
    ("0:-1/1", "must be non-negative"),
])
def test_bad_schedules_name_the_flag(text, message):
  with pytest.raises(ValueError, match=message) as error:
    loss_weights.parse(text)
  assert "--loss_weight_schedule" in str(error.value)


class _WeightsSeen(keras.callbacks.Callback):
  """Records the loss weights the first train step of each epoch uses."""

  def __init__(self, fail_at_epoch=None):
    super().__init__()
    self.seen = {}
    self.fail_at_epoch = fail_at_epoch
    self.epoch = None

  def on_epoch_begin(self, epoch, logs=None):
    if epoch == self.fail_at_epoch:
      raise RuntimeError("preempted")
    self.epoch = epoch

  def on_train_batch_begin(self, batch, logs=None):
    if batch == 0:
      self.seen[self.epoch] = tuple(
          np.round(self.model.head_loss_weights.numpy(), 6))


def _fit(spec, model_dir, epochs, recorder):
  """Fits with the schedule and the resume machinery `training.run` uses."""
  keras.utils.set_random_seed(0)
  model = helpers.tiny_model(spec)
  model.compile(optimizer=keras.optimizers.SGD(0.1))
  model.optimizer.build(model.trainable_variables)
  checkpoints = os.path.join(model_dir, "checkpoints")
  state = checkpointing.TrainingState(model, checkpoints, keep=1,
                                      best_mode="min")
  first_epoch = state.restore()
  callbacks = [
      loss_weights.LossWeightSchedule(loss_weights.parse(SCHEDULE)),
      checkpointing.EpochCheckpoints(state, checkpoints, "loss"),
      summaries.EpochScalars(model_dir),
      recorder,
  ]
  return model.fit(spec.splits["train"].examples.batch(8), epochs=epochs,
                   initial_epoch=first_epoch, shuffle=False, verbose=0,
                   callbacks=callbacks)


def test_schedule_switches_at_its_epochs_resumes_and_is_logged(tmp_path):
  spec = helpers.tiny_spec()
  first = _WeightsSeen(fail_at_epoch=3)
  with pytest.raises(RuntimeError, match="preempted"):
    _fit(spec, str(tmp_path), 5, first)
  assert first.seen == {0: (0.9, 0.1), 1: (0.9, 0.1), 2: (0.5, 0.5)}
  resumed = _WeightsSeen()
  history = _fit(spec, str(tmp_path), 5, resumed)
  assert resumed.seen == {3: (0.1, 0.9), 4: (0.1, 0.9)}  # restarts at 3
  np.testing.assert_allclose(history.history["loss_weight/fine"], [0.9, 0.9])
  logged = {}
  train_dir = os.path.join(tmp_path, "train")
  for name in os.listdir(train_dir):
    for event in tf.compat.v1.train.summary_iterator(
        os.path.join(train_dir, name)):
      for value in event.summary.value:
        if value.tag == "loss_weight/coarse":
          logged[event.step] = float(tf.make_ndarray(value.tensor))
  np.testing.assert_allclose([logged[e] for e in range(5)],
                             [0.9, 0.9, 0.5, 0.1, 0.1], rtol=1e-6)


@pytest.mark.parametrize("argv, message", [
    # The losses as the flags were given, not as each head resolves them.
    (["--head=joint"], "needs --loss=multilabel_ce, got --loss=ce$"),
    (["--head=joint", "--loss=multilabel_ce", "--fine_loss=ce"],
     "a joint loss scores both heads at once; got --loss=multilabel_ce, "
     "--fine_loss=ce$"),
    (["--loss=multilabel_ce", "--loss_weights=2,1"],
     ": --loss=multilabel_ce is one loss over both heads"),
    (["--loss=multilabel_ce", "--loss_weight_schedule=0:1/0"],
     "--loss_weight_schedule empty"),
    (["--loss_weight_schedule=2:1/1"], "first entry must be for epoch 0"),
])
def test_flag_validators_reject_bad_combinations(argv, message):
  values = copy.deepcopy(flags_lib.FLAGS)  # leaves the global FLAGS unparsed
  with pytest.raises(flags.IllegalFlagValueError, match=message):
    values(["prog", *argv])


def test_a_joint_loss_named_on_both_heads_is_accepted():
  values = copy.deepcopy(flags_lib.FLAGS)
  values(["prog", "--head=joint", "--coarse_loss=multilabel_ce",
          "--fine_loss=multilabel_ce"])
  assert values.head == "joint"
