"""End to end: a short training run writes every record a researcher reads."""

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from research import config
from research import evaluation
from research import provenance
from research import summaries
from research import train
from research import training
from research.data import registry as data_registry
from research.data import spec as spec_lib
from tests import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PER_HEAD_TAGS = {"loss", "coarse/loss", "coarse/accuracy", "fine/loss",
                 "fine/accuracy", "fine/top3_accuracy", "joint/exact_match"}


def _tiny_cfg(**train_fields):
  return config.Config().replace(
      data={"synthetic_train_size": 1600, "synthetic_separation": 2.0},
      train={"epochs": 3, "batch_size": 64, **train_fields})


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp("run"))
  return model_dir, training.run(_tiny_cfg(), model_dir)


def _scalars(folder):
  """{tag: [values by epoch]} from the tensor summaries in one split folder."""
  accumulator = event_accumulator.EventAccumulator(
      folder, size_guidance={event_accumulator.TENSORS: 0})
  accumulator.Reload()
  return {tag: [float(tf.make_ndarray(event.tensor_proto))
                for event in accumulator.Tensors(tag)]
          for tag in accumulator.Tags()["tensors"]}


def test_fine_accuracy_is_far_above_chance(finished_run):
  _, results = finished_run
  assert results["test"]["fine/accuracy"] > 5 * (1 / 27)
  assert results["test"]["coarse/accuracy"] > 2 * (1 / 4)


def test_results_json_holds_per_head_test_metrics(finished_run):
  model_dir, results = finished_run
  with open(os.path.join(model_dir, "results.json")) as handle:
    saved = json.load(handle)
  assert saved == json.loads(json.dumps(results))
  assert PER_HEAD_TAGS <= set(saved["test"])
  assert saved["epochs"] == 3
  assert saved["train_steps"] == 3 * 25
  assert saved["steps_per_second"] > 0 and saved["wall_seconds"] > 0
  assert saved["code_version"] == provenance.code_version()


def test_config_json_rebuilds_the_config(finished_run):
  model_dir, _ = finished_run
  with open(os.path.join(model_dir, "config.json")) as handle:
    assert config.Config.from_json(handle.read()) == _tiny_cfg()


def test_tensorboard_has_per_head_tags_per_split_and_epoch(finished_run):
  model_dir, results = finished_run
  for split in ("train", "validation"):
    scalars = _scalars(os.path.join(model_dir, split))
    assert PER_HEAD_TAGS <= set(scalars), split
    assert all(len(scalars[tag]) == 3 for tag in PER_HEAD_TAGS)
  validation = _scalars(os.path.join(model_dir, "validation"))
  np.testing.assert_allclose(validation["fine/accuracy"][-1],
                             results["validation"]["fine/accuracy"], rtol=1e-6)


def test_tensorboard_logs_the_rate_of_each_epochs_first_step(finished_run):
  model_dir, _ = finished_run
  peak, steps_per_epoch, epochs = 1e-3, 25, 3  # config defaults: adam, cosine
  first_steps = np.arange(epochs) * steps_per_epoch
  expected = peak * 0.5 * (1 + np.cos(np.pi * first_steps /
                                      (epochs * steps_per_epoch)))
  logged = _scalars(os.path.join(model_dir, "train"))["learning_rate"]
  np.testing.assert_allclose(logged, expected, rtol=1e-6)


def test_checkpoints_are_written(finished_run):
  model_dir, _ = finished_run
  for name in ("last.weights.h5", "best.weights.h5"):
    assert os.path.getsize(os.path.join(model_dir, "checkpoints", name)) > 0


def test_command_line_prints_the_per_head_table(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "research.train", "--epochs=1",
       "--synthetic_train_size=640", f"--model_dir={tmp_path}", "--verbose=0"],
      cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
  lines = result.stdout.splitlines()
  assert "\nTest results (1 epoch, " in result.stdout, result.stdout
  assert any(line.startswith("coarse ") for line in lines), result.stdout
  assert any(line.startswith("fine ") for line in lines)
  assert f"tensorboard --logdir {tmp_path}" in result.stdout
  assert (tmp_path / "results.json").exists()


def test_printed_table_shows_each_test_metric_in_its_column():
  test = {"coarse/loss": 0.11, "coarse/accuracy": 0.12, "coarse/macro_f1": 0.13,
          "fine/loss": 0.21, "fine/accuracy": 0.22, "fine/macro_f1": 0.23,
          "fine/top3_accuracy": 0.24, "loss": 0.31, "joint/exact_match": 0.32,
          "joint/consistency": 0.33}
  results = {"test": test,
             "validation": {name: 0.9 for name in test},  # must not show
             "hierarchy": {"strict": True, "fine_under_several_coarse": 0}}
  lines = train.summary_table(results).splitlines()
  assert [line.split() for line in lines[:4]] == [
      ["head", "loss", "accuracy", "macro_f1", "top3"],
      ["coarse", "0.1100", "0.1200", "0.1300", "-"],
      ["fine", "0.2100", "0.2200", "0.2300", "0.2400"],
      ["joint", "0.3100", "0.3200", "-", "-"]]
  assert lines[5].startswith(
      "consistency (fine under predicted coarse): 0.3300;")


def test_multi_worker_without_tf_config_warns_that_it_is_one_worker(caplog):
  train.warn_if_single_worker("multi_worker", {})
  assert "without TF_CONFIG: running as a single worker" in caplog.text
  caplog.clear()
  train.warn_if_single_worker(
      "multi_worker", {"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:1"]}}'})
  train.warn_if_single_worker("mirrored", {})
  assert not caplog.text


def test_a_model_dir_of_another_run_is_refused_and_left_intact(finished_run):
  model_dir = pathlib.Path(finished_run[0])
  records = ("config.json", "results.json", "checkpoints/last.weights.h5")
  before = {name: (model_dir / name).read_bytes() for name in records}
  with pytest.raises(ValueError, match=r"records a different configuration "
                     r"\(--seed: 0 recorded, 7 now\)"):
    training.run(_tiny_cfg(seed=7), str(model_dir))
  assert {name: (model_dir / name).read_bytes() for name in records} == before


def _records(model_dir):
  """{name: (bytes, inode)} of a run's records: an atomic rewrite of the
  same bytes still makes a new inode."""
  folder = pathlib.Path(model_dir)
  return {name: ((folder / name).read_bytes(), (folder / name).stat().st_ino)
          for name in ("results.json", "config.json", "classes.json",
                       "hierarchy.json")}


@pytest.mark.parametrize("runtime_changes", [
    {}, {"verbose": 1, "keep_checkpoints": 1, "deterministic": True}],
    ids=["same flags", "other runtime flags"])
def test_rerunning_a_finished_run_keeps_its_records(finished_run,
                                                    runtime_changes):
  model_dir, _ = finished_run
  recorded = _records(model_dir)
  results = json.loads(recorded["results.json"][0])
  rerun = _tiny_cfg().replace(runtime=runtime_changes)
  assert training.run(rerun, model_dir) == results
  assert _records(model_dir) == recorded


@pytest.mark.parametrize("recorded, problem", [
    (config.Config().replace(data={"synthetic_train_size": 64},
                             train={"epochs": 2}).to_json(),
     "records a different configuration (--epochs: 2 recorded, 1 now); use a "
     "new --model_dir (or the same flags to resume that run)"),
    ('{"train": {"epochs": 3', "is not a run's config.json"),
], ids=["other epochs", "corrupt"])
def test_train_refuses_a_folder_of_another_run_in_one_line(tmp_path, recorded,
                                                          problem):
  (tmp_path / "config.json").write_text(recorded)
  with pytest.raises(SystemExit) as error:
    helpers.run_main(train.main, model_dir=str(tmp_path), epochs=1,
                     synthetic_train_size=64, verbose=0)
  assert str(error.value).startswith(
      f"error: {tmp_path / 'config.json'} {problem}")
  assert "\n" not in str(error.value)
  assert (tmp_path / "config.json").read_text() == recorded


def test_a_resume_may_change_where_it_runs_but_not_its_precision(tmp_path):
  summaries.claim_model_dir(str(tmp_path), config.Config().as_dict())
  elsewhere = config.Config().replace(runtime={
      "strategy": "mirrored", "jit_compile": True, "verbose": 0,
      "steps_per_execution": 4, "keep_checkpoints": 1})
  summaries.claim_model_dir(str(tmp_path), elsewhere.as_dict())
  recorded = (tmp_path / "config.json").read_bytes()
  for changes, message in (
      ({"mixed_precision": "mixed_bfloat16"},
       "--mixed_precision: 'none' recorded, 'mixed_bfloat16' now"),
      ({"best_metric": "val_loss", "best_mode": "min"},
       "--best_metric: 'val_fine/accuracy' recorded, 'val_loss' now; "
       "--best_mode: 'max' recorded, 'min' now")):
    with pytest.raises(ValueError, match=re.escape(message)):
      summaries.claim_model_dir(
          str(tmp_path), config.Config().replace(runtime=changes).as_dict())
    assert (tmp_path / "config.json").read_bytes() == recorded


def test_a_run_recorded_before_a_field_existed_resumes_at_its_default(
    tmp_path):
  recorded = config.Config().as_dict()
  del recorded["optim"]["lookahead_step_size"]
  del recorded["runtime"]["mixed_precision"]
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  summaries.claim_model_dir(str(tmp_path), config.Config().as_dict())
  with pytest.raises(ValueError, match="--lookahead_step_size: 0.5 recorded"):
    summaries.claim_model_dir(str(tmp_path), config.Config().replace(
        optim={"lookahead_step_size": 0.25}).as_dict())


def test_a_corrupt_config_json_is_named_and_left_intact(tmp_path):
  (tmp_path / "config.json").write_text('{"train": {"epochs": 3')
  with pytest.raises(ValueError, match=re.escape(
      f"{tmp_path / 'config.json'} is not a run's config.json")):
    summaries.claim_model_dir(str(tmp_path), config.Config().as_dict())
  assert (tmp_path / "config.json").read_text() == '{"train": {"epochs": 3'


def _mapping_file(folder, text):
  path = folder / "map.txt"
  path.write_text(text)
  return str(path)


@pytest.mark.parametrize("changes, message", [
    ({"loss": {"loss": "focal", "fine_focal_alpha": (1.0, 2.0)}},
     "--fine_focal_alpha: expected 27 values (one per fine class), got 2"),
    ({"runtime": {"best_metric": "val_nope"}},
     "--best_metric=val_nope is not a logged metric; expected one of: "
     "coarse/accuracy, coarse/loss, coarse/macro_f1, fine/accuracy"),
    ({"model": {"head": "joint"},
      "loss": {"loss": "multilabel_ce", "class_weight": "balanced"}},
     "--class_weight=balanced does not apply to --loss=multilabel_ce"),
    ({"data": {"hierarchy_file": "0 0\nnot a pair\n"}},
     "map.txt:2: expected '<coarse> <fine>', got 'not a pair'"),
    ({"data": {"augment_flip": True}},
     "--augment_flip needs image inputs, but the dataset gives features "
     "inputs"),
    ({"data": {"hierarchy_file": "0 0\n"}},
     "map.txt: fine classes under no coarse class: "),
    ({"optim": {"sgd_nesterov": True}},
     "--sgd_momentum and --sgd_nesterov apply to --optimizer=sgd only"),
    # 1600 examples / 64 = 25 steps per epoch; Keras would run 28.
    ({"runtime": {"steps_per_execution": 7}},
     "--steps_per_execution=7 does not divide the 25 training steps of an "
     "epoch"),
])
def test_a_config_that_does_not_fit_stops_before_claiming_the_model_dir(
    tmp_path, changes, message):
  if "hierarchy_file" in changes.get("data", {}):
    changes = {"data": {"hierarchy_file": _mapping_file(
        tmp_path, changes["data"]["hierarchy_file"])}}
  model_dir = tmp_path / "run"
  with pytest.raises(config.ConfigError, match=re.escape(message)):
    training.run(_tiny_cfg().replace(**changes), str(model_dir))
  assert not model_dir.exists()  # a rerun with fixed flags may use it


def test_a_logged_validation_metric_is_a_valid_best_metric(tmp_path):
  cfg = _tiny_cfg(epochs=1).replace(runtime={"best_metric": "val_fine/macro_f1",
                                             "best_mode": "max"})
  training.run(cfg, str(tmp_path))
  assert (tmp_path / "checkpoints" / "best.weights.h5").exists()



def _without_coarse_labels(split):
  features, labels = helpers.first_batch(split, len(split))
  return spec_lib.split_from_arrays(
      features, np.full(len(split), -1, np.int64), labels["fine"])


def test_metrics_of_a_split_without_coarse_labels_are_recorded_undefined(
    tmp_path, monkeypatch):
  spec = helpers.tiny_spec(size=16)
  spec = dataclasses.replace(spec, splits=dict(
      spec.splits, **{name: _without_coarse_labels(spec.splits[name])
                      for name in ("validation", "test")}))
  monkeypatch.setattr(data_registry, "load", lambda cfg, seed: spec)
  cfg = config.Config().replace(model={"width": 8},
                                train={"epochs": 1, "batch_size": 8},
                                runtime={"verbose": 0})
  training.run(cfg, str(tmp_path))
  text = (tmp_path / "results.json").read_text()
  assert '"coarse/accuracy": NaN' in text  # as eval_<split>.json writes it
  saved = json.loads(text)
  undefined = ("coarse/accuracy", "coarse/loss", "coarse/macro_f1",
               "joint/exact_match")
  for split in ("test", "validation"):
    assert all(np.isnan(saved[split][name]) for name in undefined), split
    assert np.isfinite(saved[split]["loss"])
  assert np.isnan(_scalars(str(tmp_path / "validation"))["coarse/accuracy"][0])
  members, _ = evaluation.evaluate_runs([str(tmp_path)], "test", "last")
  _, _, report = members[0]
  for name in ("coarse/accuracy", "coarse/macro_f1", "fine/accuracy",
               "fine/macro_f1", "joint/exact_match", "joint/consistency"):
    head, metric = name.split("/")
    np.testing.assert_allclose(saved["test"][name], report[head][metric],
                               rtol=1e-5, err_msg=name)
