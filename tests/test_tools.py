"""research.evaluate / predict / export on a run trained for a few steps here."""

import csv
import json
import os
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from research import config
from research import evaluate
from research import evaluation
from research import export
from research import predict
from research import prediction
from research import restore
from research import training
from research.data import problems
from tests import data_files
from tests import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = config.Config().replace(
    data={"synthetic_train_size": 128, "synthetic_feature_dim": 6},
    model={"width": 8},
    train={"epochs": 1, "batch_size": 32},
    runtime={"verbose": 0})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Two tiny runs (seeds 0 and 1) trained for one epoch of 4 steps."""
  root = tmp_path_factory.mktemp("runs")
  dirs = []
  for seed in (0, 1):
    model_dir = str(root / f"seed{seed}")
    training.run(TINY.replace(train={"seed": seed}), model_dir)
    dirs.append(model_dir)
  return dirs


def _numpy_probabilities(model_dir, split="test"):
  """Softmax of the restored model's logits, the test's own reference."""
  run = restore.restore(model_dir, "best")
  data = run.spec.splits[split]
  features = np.stack([x.numpy() for x, _ in data.examples])
  logits = run.model(features, training=False)
  return {head: helpers.numpy_softmax(logits[head])
          for head in ("coarse", "fine")}, data


def test_evaluate_writes_exact_metrics_plots_and_report(runs, capsys):
  helpers.run_main(evaluate.main, model_dir=runs[0], split="test")
  assert capsys.readouterr().out.startswith(
      f"{runs[0]} (test split, best weights (highest val_fine/accuracy)): "
      "coarse acc ")
  with open(os.path.join(runs[0], "eval_test.json")) as handle:
    report = json.load(handle)
  assert report["scored"] == (
      f"{runs[0]} (test split, best weights (highest val_fine/accuracy))")
  probabilities, data = _numpy_probabilities(runs[0])
  fine_pred = probabilities["fine"].argmax(1)
  coarse_pred = probabilities["coarse"].argmax(1)
  assert report["fine"]["accuracy"] == pytest.approx(
      np.mean(fine_pred == data.fine))
  assert report["joint"]["exact_match"] == pytest.approx(
      np.mean((fine_pred == data.fine) & (coarse_pred == data.coarse)))
  parents = np.arange(27) * 4 // 27
  assert report["joint"]["consistency"] == pytest.approx(
      np.mean(parents[fine_pred] == coarse_pred))
  top3 = np.argsort(-probabilities["fine"], axis=1)[:, :3]
  assert report["fine"]["top3_accuracy"] == pytest.approx(
      np.mean([data.fine[i] in top3[i] for i in range(len(data.fine))]))
  # Keras' own test accuracy of the (single-epoch, so best == last) run.
  with open(os.path.join(runs[0], "results.json")) as handle:
    results = json.load(handle)
  assert report["fine"]["accuracy"] == pytest.approx(
      results["test"]["fine/accuracy"], abs=1e-6)
  for name in ("confusion_coarse_test.png", "confusion_fine_test.png",
               "report_test.md", "logits_test.npz"):
    assert os.path.getsize(os.path.join(runs[0], name)) > 0
  with open(os.path.join(runs[0], "report_test.md")) as handle:
    assert "| fine_26 |" in handle.read()


@pytest.fixture(scope="module")
def image_runs(tmp_path_factory):
  """cnn runs on one folder of label files whose validation split is carved
  by seed: seeds 0 and 1 on 8x8 images, and seed 0 on 16x16."""
  root = tmp_path_factory.mktemp("image_runs")
  data_files.write_label_files(root / "data", {"train": 24, "test": 8})
  runs = {}
  for name, seed, image_size in (("seed0", 0, 8), ("seed1", 1, 8),
                                 ("size16", 0, 16)):
    runs[name] = str(root / name)
    training.run(config.Config().replace(
        data={"dataset": "label_file", "data_dir": str(root / "data"),
              "image_size": image_size, "validation_share": 0.25},
        model={"backbone": "cnn", "width": 4, "dropout": 0.0},
        train={"epochs": 1, "batch_size": 8, "seed": seed},
        runtime={"verbose": 0}), runs[name])
  return runs


def test_ensemble_averages_member_probabilities(image_runs, tmp_path):
  members = [image_runs["seed0"], image_runs["seed1"]]
  helpers.run_main(evaluate.main, model_dir=",".join(members), split="test",
                   output=str(tmp_path))
  with open(tmp_path / "eval_test.json") as handle:
    report = json.load(handle)
  first, data = _numpy_probabilities(members[0])
  second, _ = _numpy_probabilities(members[1])
  averaged = (first["fine"] + second["fine"]) / 2
  assert report["fine"]["accuracy"] == pytest.approx(
      np.mean(averaged.argmax(1) == data.fine))
  assert sorted(report["members"]) == sorted(members)


def test_an_ensemble_member_s_records_are_its_own_numbers(image_runs,
                                                          tmp_path):
  # Seeds carve other validation splits, but share the test file.
  member = image_runs["seed1"]
  helpers.run_main(evaluate.main,
                   model_dir=f"{image_runs['seed0']},{member}",
                   split="test", output=str(tmp_path), checkpoint="last")
  with open(os.path.join(member, "eval_test.json")) as handle:
    report = json.load(handle)
  with open(os.path.join(member, "results.json")) as handle:
    results = json.load(handle)
  assert report["fine"]["accuracy"] == pytest.approx(
      results["test"]["fine/accuracy"], abs=1e-6)


def _other_examples(split, member, first):
  risk = ("some perhaps held out from its training" if split == "train"
          else "some perhaps from its own training split")
  return (
      f"error: the runs' {split} splits differ: {member} holds other {split} "
      f"examples than the first run, {first} (--seed=1 where the first run "
      f"has 0); scored on the first run's, its {split} numbers would come "
      f"from other examples, {risk}. Ensemble members must share the split "
      "they are scored on (a split carved by --validation_share, or drawn by "
      "the synthetic source, follows --seed)")


@pytest.mark.parametrize("split", ["validation", "train"])
def test_an_ensemble_of_seeds_on_a_split_carved_by_seed_is_refused(
    image_runs, tmp_path, split):
  first, member = image_runs["seed0"], image_runs["seed1"]
  with pytest.raises(SystemExit) as error:
    helpers.run_main(evaluate.main, model_dir=f"{first},{member}",
                     split=split, output=str(tmp_path / "ensemble"))
  assert str(error.value) == _other_examples(split, member, first)
  assert not os.path.exists(os.path.join(member, f"eval_{split}.json"))
  assert not (tmp_path / "ensemble").exists()


def test_an_ensemble_of_synthetic_seeds_is_refused(runs, tmp_path):
  # The synthetic source draws every split by the run's seed.
  with pytest.raises(SystemExit) as error:
    helpers.run_main(evaluate.main, model_dir=",".join(runs), split="test",
                     output=str(tmp_path / "ensemble"))
  assert str(error.value) == _other_examples("test", runs[1], runs[0])
  assert not (tmp_path / "ensemble").exists()


def test_checkpoint_description_names_the_run_s_best_metric_and_mode():
  runtime_cfg = config.RuntimeConfig(best_metric="val_loss", best_mode="min")
  assert (restore.describe_checkpoint("best", runtime_cfg) ==
          "best weights (lowest val_loss)")
  assert (restore.describe_checkpoint("last", runtime_cfg) ==
          "last weights (final epoch)")


def test_per_class_scores_match_hand_counts():
  labels = np.array([0, 0, 1, 1, 2, -1])
  predicted = np.array([0, 1, 1, 1, 0, 2])
  confusion = evaluation.confusion_matrix(labels, predicted, 3)
  np.testing.assert_array_equal(confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
  precision, recall, f1, support = evaluation.per_class_scores(confusion)
  np.testing.assert_allclose(precision, [1 / 2, 2 / 3, 0])
  np.testing.assert_allclose(recall, [1 / 2, 1, 0])
  np.testing.assert_allclose(f1, [1 / 2, 0.8, 0])
  np.testing.assert_array_equal(support, [2, 2, 1])


def test_head_report_top_k_and_accuracy_of_hand_made_probabilities():
  labels = np.array([3, 0, -1, 2, 1])
  probabilities = np.array([[0.1, 0.2, 0.3, 0.4],   # label ranked 1st
                            [0.1, 0.2, 0.3, 0.4],   # 4th: a top-2 miss
                            [0.4, 0.3, 0.2, 0.1],   # no label
                            [0.4, 0.3, 0.2, 0.1],   # 3rd: a top-2 miss
                            [0.3, 0.4, 0.2, 0.1]])  # 1st
  predicted = probabilities.argmax(axis=1)
  report = evaluation.head_report(labels, probabilities, predicted,
                                  ("a", "b", "c", "d"), top_k=2)
  assert report["top2_accuracy"] == pytest.approx(2 / 4)
  assert report["accuracy"] == pytest.approx(2 / 4)
  assert report["num_labelled"] == 4


def test_head_report_top_k_counts_ties_as_the_training_metric_does():
  labels = np.array([4, 3])
  probabilities = np.array([[0.2, 0.2, 0.2, 0.2, 0.2],      # all tied
                            [0.4, 0.2, 0.2, 0.2, 0.0]])     # tied 2nd-4th
  report = evaluation.head_report(labels, probabilities,
                                  probabilities.argmax(axis=1),
                                  tuple("abcde"), top_k=3)
  logits = np.log(np.maximum(probabilities, 1e-9)).astype(np.float32)
  in_top_k = tf.math.in_top_k(labels, logits, k=3).numpy()
  assert list(in_top_k) == [True, True]
  assert report["top3_accuracy"] == pytest.approx(1.0)


def test_joint_report_counts_exact_match_over_fully_labelled_examples():
  labels = {"coarse": np.array([0, 1, -1, 1]), "fine": np.array([2, -1, 0, 1])}
  predicted = {"coarse": np.array([0, 1, 0, 0]), "fine": np.array([2, 0, 0, 1])}
  mask = np.array([[1, 0, 1], [0, 1, 0]])
  report = evaluation.joint_report(labels, predicted, mask)
  # Rows 0 and 3 have both labels; only row 0 is right on both. Pairs
  # (0, 2) and (0, 0) of the four predicted ones are allowed.
  assert report == {"exact_match": pytest.approx(1 / 2),
                    "consistency": pytest.approx(2 / 4)}


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_predict_writes_labels_names_and_probabilities(runs, tmp_path, suffix):
  probabilities, data = _numpy_probabilities(runs[0])
  features = np.stack([x.numpy() for x, _ in data.examples])[:5]
  path = str(tmp_path / f"inputs{suffix}")
  if suffix == ".npy":
    np.save(path, features)
  else:
    np.savetxt(path, features, delimiter=",", fmt="%.9g",
               header=",".join(f"x{i}" for i in range(6)), comments="")
  output = str(tmp_path / "preds.csv")
  helpers.run_main(predict.main, model_dir=runs[0], input=path, output=output)
  with open(output, newline="") as handle:
    rows = list(csv.DictReader(handle))
  assert len(rows) == 5
  for i, row in enumerate(rows):
    fine = int(probabilities["fine"][i].argmax())
    assert int(row["fine"]) == fine and row["fine_name"] == f"fine_{fine}"
    assert float(row["fine_probability"]) == pytest.approx(
        probabilities["fine"][i, fine], abs=1e-5)
    coarse = int(probabilities["coarse"][i].argmax())
    assert row["coarse_name"] == f"coarse_{coarse}"
    assert float(row["coarse_p_coarse_3"]) == pytest.approx(
        probabilities["coarse"][i, 3], abs=1e-5)


def test_predict_csv_gives_the_probability_of_the_decoded_label(tmp_path):
  # A consistent decoder may pick a class other than the argmax; the
  # probability column is that of the written label.
  spec = types.SimpleNamespace(coarse_names=("a", "b"),
                               fine_names=("x", "y", "z"))
  probabilities = {"coarse": np.array([[0.6, 0.4]]),
                   "fine": np.array([[0.5, 0.3, 0.2]])}
  labels = {"coarse": np.array([1]), "fine": np.array([2])}
  path = str(tmp_path / "preds.csv")
  prediction.write_csv(path, ["first"], probabilities, labels, spec)
  with open(path, newline="") as handle:
    (row,) = list(csv.DictReader(handle))
  assert (row["coarse"], row["coarse_name"], row["coarse_probability"]) == (
      "1", "b", "0.400000")
  assert (row["fine"], row["fine_name"], row["fine_probability"]) == (
      "2", "z", "0.200000")
  assert row["fine_p_x"] == "0.500000"


def test_softmax_of_large_logits_is_finite():
  np.testing.assert_allclose(
      evaluation.softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0]])),
      [[1.0, 0.0], [0.5, 0.5]], atol=1e-12)


def _save_npy(path, array):
  """np.save to exactly `path` (np.save adds .npy to other suffixes)."""
  with open(path, "wb") as handle:
    np.save(handle, array)


BAD_FEATURES = {  # file name -> (its content's writer, line, problem)
    "narrow.npy": (lambda p: _save_npy(p, np.zeros((2, 5), np.float32)),
                   None, "features of shape (2, 5); expected [n, 6] rows for "
                   "this model"),
    "strings.npy": (lambda p: _save_npy(p, np.array([["a"] * 6] * 2)), None,
                    "features of dtype <U1; expected numbers (float or "
                    "integer)"),
    "empty.npy": (lambda p: _save_npy(p, np.zeros((0, 6), np.float32)), None,
                  "no feature rows (an array of shape (0, 6)); expected "
                  "[n, 6] rows with n > 0"),
    "UPPER.NPY": (lambda p: _save_npy(p, np.zeros((2, 5), np.float32)), None,
                  "features of shape (2, 5); expected [n, 6] rows for this "
                  "model"),
    "ragged.csv": (lambda p: p.write_text(
        "a,b,c,d,e,f\n1,2,3,4,5,6\n\n1,2,3,4,5\n1,2\n"), 4,
                   "expected 6 numbers (the model's feature width), found 5"),
    "words.csv": (lambda p: p.write_text("1,2,3,4,5,6\n1,x,3,4,5,6\n"), 2,
                  "expected only numbers, got ['1', 'x', '3', '4', '5', '6']"),
    "empty.csv": (lambda p: p.write_text(""), None,
                  "no rows of numbers; expected rows of 6 numbers (a header "
                  "line allowed)"),
    "header_only.csv": (lambda p: p.write_text("a,b,c,d,e,f\n"), None,
                        "no rows of numbers; expected rows of 6 numbers (a "
                        "header line allowed)"),
    "nan.csv": (lambda p: p.write_text("1,2,3,4,5,6\n1,2,nan,4,5,6\n"), None,
                "row 1 (ids count from 0) holds nan or inf; expected finite "
                "numbers"),
    "inf.npy": (lambda p: _save_npy(p, np.array([[np.inf] * 6])), None,
                "row 0 (ids count from 0) holds nan or inf; expected finite "
                "numbers"),
}


@pytest.mark.parametrize("name", sorted(BAD_FEATURES))
def test_predict_rejects_bad_feature_rows_in_one_line(runs, tmp_path, name):
  write, line, message = BAD_FEATURES[name]
  path = tmp_path / name
  write(path)
  with pytest.raises(SystemExit) as exit_info:
    helpers.run_main(predict.main, model_dir=runs[0], input=str(path),
                     output=str(tmp_path / "p.csv"))
  problem = problems.Problem(str(path), line, message)
  assert exit_info.value.code == f"error: 1 data problem:\n{problem}"


def test_predict_names_an_input_it_cannot_open(runs, tmp_path, monkeypatch):
  # Root, who runs the tests, reads any file: the denial is simulated.
  path = str(tmp_path / "rows.csv")

  def denied(input_path, spec, data_cfg):
    raise PermissionError(13, "Permission denied", input_path)

  monkeypatch.setattr(predict.prediction, "read_inputs", denied)
  with pytest.raises(SystemExit) as exit_info:
    helpers.run_main(predict.main, model_dir=runs[0], input=path,
                     output=str(tmp_path / "p.csv"))
  assert exit_info.value.code == f"error: [Errno 13] Permission denied: '{path}'"


def test_export_prints_only_where_it_wrote(runs, tmp_path):
  # TF logs every shard and asset it saves at INFO; research.train hides
  # them, and so must export.
  export_dir = str(tmp_path / "export")
  result = subprocess.run(
      [sys.executable, "-m", "research.export", f"--model_dir={runs[0]}",
       f"--export_dir={export_dir}"], cwd=ROOT, capture_output=True,
      text=True, timeout=300, check=True)
  assert result.stdout == (f"SavedModel written to {export_dir} "
                           "(signature serving_default)\n")
  for noise in ("Sharding callback", "Assets written", "fingerprint"):
    assert noise not in result.stderr, result.stderr


def test_exported_signature_matches_the_keras_model(runs, tmp_path):
  export_dir = str(tmp_path / "export")
  helpers.run_main(export.main, model_dir=runs[0], export_dir=export_dir)
  probabilities, data = _numpy_probabilities(runs[0])
  features = np.stack([x.numpy() for x, _ in data.examples])
  loaded = tf.saved_model.load(export_dir)
  outputs = loaded.signatures["serving_default"](features=tf.constant(features))
  for head in ("coarse", "fine"):
    np.testing.assert_allclose(outputs[f"{head}_probabilities"].numpy(),
                               probabilities[head], atol=1e-6)
    expected = probabilities[head].argmax(1)
    np.testing.assert_array_equal(outputs[f"{head}_label"].numpy(), expected)
    assert [n.decode() for n in outputs[f"{head}_name"].numpy()] == [
        f"{head}_{i}" for i in expected]


def _unfinished_copy(model_dir, folder):
  """A copy of `model_dir` as a run killed before its end leaves it: its
  checkpoints and config, but no results.json."""
  shutil.copytree(model_dir, folder)
  os.remove(os.path.join(folder, "results.json"))
  return str(folder)


def test_restore_names_the_missing_checkpoint(runs, tmp_path):
  shutil.copytree(runs[0], tmp_path / "run")
  os.remove(tmp_path / "run" / "checkpoints" / "best.weights.h5")
  with pytest.raises(FileNotFoundError, match="best.weights.h5"):
    restore.restore(str(tmp_path / "run"), "best")


def _not_a_finished_run(model_dir):
  return (f"error: {model_dir}/results.json: missing, so {model_dir} is not "
          "a finished run (research.train writes results.json when a run's "
          "last epoch is tested)")


@pytest.mark.parametrize("main, flags", [
    (evaluate.main, {}), (predict.main, {"input": "rows.npy"}),
    (export.main, {})])
@pytest.mark.parametrize("checkpoint", ["best", "last"])
@pytest.mark.parametrize("unfinished", [False, True],
                         ids=["empty folder", "unfinished run"])
def test_tools_given_a_folder_that_is_not_a_finished_run_stop_in_one_line(
    runs, tmp_path, main, flags, checkpoint, unfinished):
  model_dir = (_unfinished_copy(runs[0], tmp_path / "run") if unfinished
               else str(tmp_path))
  with pytest.raises(SystemExit) as error:
    helpers.run_main(main, model_dir=model_dir, checkpoint=checkpoint,
                     **flags)
  assert str(error.value) == _not_a_finished_run(model_dir)


def test_an_ensemble_with_an_unfinished_member_is_refused(runs, tmp_path):
  unfinished = _unfinished_copy(runs[1], tmp_path / "unfinished")
  with pytest.raises(SystemExit) as error:
    helpers.run_main(evaluate.main, model_dir=f"{runs[0]},{unfinished}",
                     output=str(tmp_path / "ensemble"))
  assert str(error.value) == _not_a_finished_run(unfinished)
  assert not (tmp_path / "ensemble").exists()


def test_an_ensemble_of_runs_on_different_tasks_is_refused(runs, tmp_path):
  other = tmp_path / "other_task"
  shutil.copytree(runs[1], other)
  classes = json.loads((other / "classes.json").read_text())
  classes.update(dataset="label_file", fine_names=["a", "b"])
  (other / "classes.json").write_text(json.dumps(classes))
  with pytest.raises(SystemExit) as error:
    helpers.run_main(evaluate.main, model_dir=f"{runs[0]},{other}",
                     output=str(tmp_path / "ensemble"))
  assert str(error.value) == (
      f"error: the runs' tasks differ: {other} was trained on label_file with "
      "4 coarse and 2 fine classes, the first run on synthetic with 4 and 27 "
      "(dataset, fine_names differ)")
  assert not (tmp_path / "ensemble").exists()


def test_an_ensemble_member_with_another_hierarchy_is_refused(runs, tmp_path):
  other = tmp_path / "other_hierarchy"
  shutil.copytree(runs[1], other)
  classes = json.loads((other / "classes.json").read_text())
  classes["fine_to_coarse"] = classes["fine_to_coarse"][::-1]
  (other / "classes.json").write_text(json.dumps(classes))
  with pytest.raises(SystemExit) as error:
    helpers.run_main(evaluate.main, model_dir=f"{runs[0]},{other}",
                     output=str(tmp_path / "ensemble"))
  assert str(error.value).endswith("(fine_to_coarse differ)")


@pytest.fixture(scope="module")
def eight_features(tmp_path_factory):
  """A run like `runs`' but on 8 input features, not 6."""
  model_dir = str(tmp_path_factory.mktemp("eight_features") / "run")
  training.run(TINY.replace(data={"synthetic_feature_dim": 8}), model_dir)
  return model_dir


def _does_not_fit(weights):
  return (rf"^error: {weights} does not fit the model that .* builds for the "
          r"task of synthetic with inputs \(6,\) \(A total of 1 objects "
          r"could not be loaded.*\)$")


@pytest.mark.parametrize("backbone", ["mlp", "cnn"])
def test_an_ensemble_of_runs_with_different_inputs_is_refused(
    runs, eight_features, image_runs, tmp_path, backbone):
  # cnn pools globally: its weights load at any image size.
  first, member, shapes = {
      "mlp": (runs[0], eight_features, ((8,), (6,))),
      "cnn": (image_runs["seed0"], image_runs["size16"],
              ((16, 16, 3), (8, 8, 3)))}[backbone]
  with pytest.raises(SystemExit) as error:
    helpers.run_main(evaluate.main, model_dir=f"{first},{member}",
                     output=str(tmp_path / "ensemble"))
  assert str(error.value) == (
      f"error: the runs' inputs differ: {member} was trained on inputs "
      f"{shapes[0]}, the first run on {shapes[1]}")
  assert not (tmp_path / "ensemble").exists()


@pytest.mark.parametrize("main, flags", [
    (evaluate.main, {}), (predict.main, {"input": "rows.npy"}),
    (export.main, {})])
def test_tools_given_weights_that_do_not_fit_the_config_stop_in_one_line(
    runs, eight_features, tmp_path, main, flags):
  model_dir = tmp_path / "run"
  shutil.copytree(runs[0], model_dir)
  weights = model_dir / "checkpoints" / "best.weights.h5"
  shutil.copyfile(os.path.join(eight_features, "checkpoints",
                               "best.weights.h5"), weights)
  with pytest.raises(SystemExit, match=_does_not_fit(weights)):
    helpers.run_main(main, model_dir=str(model_dir), **flags)


def _train_text_run(folder, rows):
  """A csv_text run trained on `rows` written to folder/train.csv."""
  data_files.write_csv(folder / "train.csv", rows)
  data_files.write_csv(folder / "test.csv", rows[:8])
  cfg = config.Config().replace(
      data={"dataset": "csv_text", "data_dir": str(folder), "vocab_size": 12,
            "sequence_length": 4},
      model={"backbone": "text_cnn", "width": 4, "dropout": 0.0},
      train={"epochs": 1, "batch_size": 8}, runtime={"verbose": 0})
  model_dir = str(folder / "run")
  training.run(cfg, model_dir)
  return model_dir


@pytest.mark.parametrize("edit, difference", [
    (lambda text, coarse, fine: (text, coarse,
                                 "tabby" if fine == "cat" else fine),
     "fine_names[0]: 'cat' recorded, 'dog' now"),
    (lambda text, coarse, fine: (f"zebra {text}", coarse, fine),
     "vocabulary[2]: 'a' recorded, 'zebra' now"),
], ids=["class renamed", "texts reworded"])
def test_tools_refuse_a_run_whose_data_changed_after_training(
    tmp_path, edit, difference):
  # Same class count and vocabulary size: the weights would load, and class
  # indices get other names or token ids other words.
  rows = data_files.text_rows(16)
  model_dir = _train_text_run(tmp_path, rows)
  edited = [edit(*row) for row in rows]
  data_files.write_csv(tmp_path / "train.csv", edited)
  data_files.write_csv(tmp_path / "test.csv", edited[:8])
  with pytest.raises(SystemExit) as error:
    helpers.run_main(predict.main, model_dir=model_dir,
                     input=str(tmp_path / "test.csv"),
                     output=str(tmp_path / "p.csv"))
  assert str(error.value) == (
      f"error: {model_dir}/classes.json records another task than "
      f"{model_dir}'s data gives now ({difference}); the data changed since "
      "the run started, and its weights would get other class names or "
      "tokens")
  assert not (tmp_path / "p.csv").exists()


def test_a_resume_on_data_changed_since_the_run_started_is_refused(tmp_path):
  rows = data_files.text_rows(16)
  model_dir = _train_text_run(tmp_path, rows)
  os.remove(os.path.join(model_dir, "results.json"))  # as if stopped early
  classes_before = (tmp_path / "run" / "classes.json").read_bytes()
  reworded = [(f"zebra {text}", coarse, fine) for text, coarse, fine in rows]
  with pytest.raises(config.ConfigError) as error:
    _train_text_run(tmp_path, reworded)  # the same run, resumed
  assert ("(vocabulary[2]: 'a' recorded, 'zebra' now); the data changed "
          "since the run started") in str(error.value)
  assert (tmp_path / "run" / "classes.json").read_bytes() == classes_before


def _numpy_consistent(probabilities, mask):
  """Brute force: the allowed (coarse, fine) pair of highest p(c) * p(f)."""
  scores = probabilities["coarse"][:, :, None] * probabilities["fine"][:, None]
  scores = np.where(mask[None] > 0, scores, -1.0)  # [n, C, F]
  best = scores.reshape(len(scores), -1).argmax(axis=1)
  return best // mask.shape[1], best % mask.shape[1]


def test_tools_decode_with_the_decoder_and_hierarchy_of_training(tmp_path):
  model_dir = str(tmp_path / "consistent")
  training.run(TINY.replace(model={"decode": "consistent"}), model_dir)
  probabilities, data = _numpy_probabilities(model_dir)
  run = restore.restore(model_dir, "best")
  coarse, fine = _numpy_consistent(probabilities,
                                   run.model.hierarchy_mask.numpy())
  decoded = evaluation.decode(run.model, probabilities)
  np.testing.assert_array_equal(decoded["coarse"], coarse)
  np.testing.assert_array_equal(decoded["fine"], fine)
  export_dir = str(tmp_path / "export")
  helpers.run_main(export.main, model_dir=model_dir, export_dir=export_dir)
  features = np.stack([x.numpy() for x, _ in data.examples])
  outputs = tf.saved_model.load(export_dir).signatures["serving_default"](
      features=tf.constant(features))
  np.testing.assert_array_equal(outputs["coarse_label"].numpy(), coarse)
  np.testing.assert_array_equal(outputs["fine_label"].numpy(), fine)


def test_head_report_masks_missing_labels_and_skips_unseen_classes():
  labels = np.array([0, 1, 1, -1])
  probabilities = np.array([[0.9, 0.1, 0.0, 0.0], [0.2, 0.8, 0.0, 0.0],
                            [0.6, 0.4, 0.0, 0.0], [0.0, 0.0, 0.1, 0.9]])
  predicted = probabilities.argmax(1)  # [0, 1, 0, 3]; the last is unlabelled
  report = evaluation.head_report(labels, probabilities, predicted,
                                  ("a", "b", "c", "d"), top_k=2)
  assert report["accuracy"] == pytest.approx(2 / 3)
  # class a: P 1/2 R 1 F1 2/3; class b: P 1 R 1/2 F1 2/3; c, d never seen.
  assert report["macro_f1"] == pytest.approx(2 / 3)
  assert report["top2_accuracy"] == pytest.approx(1.0)
  assert report["per_class"]["d"]["support"] == 0
