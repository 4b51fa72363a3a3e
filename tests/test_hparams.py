"""Every run records its ablation axes and test metrics for the HParams plugin."""

import glob
import json
import os

import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import plugin_data_pb2

from research import config
from research import summaries
from research import training


def _events(folder):
  for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      yield from event.summary.value


def _session_start_info(folder):
  """The HParams plugin's session_start_info recorded in `folder`, or None."""
  for value in _events(folder):
    if value.metadata.plugin_data.plugin_name == "hparams":
      data = plugin_data_pb2.HParamsPluginData.FromString(
          value.metadata.plugin_data.content)
      if data.HasField("session_start_info"):
        return data.session_start_info
  return None


def test_training_run_writes_hparams_and_test_metrics(tmp_path):
  cfg = config.Config().replace(
      data={"synthetic_train_size": 64, "synthetic_feature_dim": 4},
      model={"width": 4}, optim={"learning_rate": 0.003},
      train={"epochs": 1, "batch_size": 32}, runtime={"verbose": 0})
  model_dir = str(tmp_path / "run")
  results = training.run(cfg, model_dir)
  session = _session_start_info(model_dir)
  assert session is not None, "no HParams session_start_info in model_dir"
  hparams = session.hparams
  assert hparams["loss"].string_value == "ce"
  assert hparams["learning_rate"].number_value == pytest.approx(0.003)
  assert hparams["loss_weights"].string_value == "1.0,1.0"
  assert "model_dir" not in hparams  # where a run ran is not an axis
  test_scalars = {v.tag: float(tf.make_ndarray(v.tensor))
                  for v in _events(os.path.join(model_dir, "test"))}
  with open(os.path.join(model_dir, "results.json")) as handle:
    assert json.load(handle)["test"] == pytest.approx(results["test"])
  assert test_scalars["fine/accuracy"] == pytest.approx(
      results["test"]["fine/accuracy"])


def test_ablation_axes_flatten_sections_and_keep_runtime_fields_of_results():
  axes = summaries.ablation_axes(
      {"loss": {"loss": "focal", "loss_weights": (1.0, 0.5)},
       "data": {"label_file": None},
       "runtime": {"model_dir": "x", "verbose": 0, "strategy": "mirrored",
                   "mixed_precision": "mixed_bfloat16"}})
  assert axes == {"loss": "focal", "loss_weights": "1.0,0.5",
                  "mixed_precision": "mixed_bfloat16"}


def test_runs_differing_only_in_seed_share_a_trial_group(tmp_path):
  axes = {"loss": "ce", "seed": 0}
  for name, changes in (("a", {}), ("b", {"seed": 1}), ("c", {"loss": "focal"})):
    summaries.write_hparams(str(tmp_path / name), {**axes, **changes},
                            {"fine/accuracy": 0.5}, step=1)
  groups = [_session_start_info(str(tmp_path / name)).group_name
            for name in "abc"]
  assert groups[0] == groups[1] != groups[2]
