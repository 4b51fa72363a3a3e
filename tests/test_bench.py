"""The benchmark's arithmetic and README block, and the recipe's backbone.

No timing is asserted: step rates depend on the machine and its load.
"""

import json
import os

from absl.testing import flagsaver
import numpy as np
import pytest

from experiments import bench
from experiments import bench_cases
from experiments import bench_report
from experiments.recipes import fashion_mnist
from research.backbones import resnet
from tests import helpers


def test_ratio_is_the_median_over_groups_of_group_rate_ratios():
  fast, slow = bench_cases.Case(), bench_cases.Case(functional=True)
  rates = [([10.0, 30.0, 12.0, 12.0], [5.0, 10.0, 12.0, 6.0])]
  rows = bench.ratio_rows([("a / b", "mlp", fast, slow, ">= 1")], rates,
                          groups=2)
  label, backbone, rate_a, rate_b, ratio, target = rows[0]
  assert (label, backbone, target) == ("a / b", "mlp w128", ">= 1")
  # Every round runs the same steps, so a rate over rounds is the steps over
  # the summed time: 4 / (1/10 + 1/30 + 1/12 + 1/12) for a.
  assert (rate_a, rate_b) == (f"{4 / 0.3:.1f}", f"{4 / 0.55:.1f}")
  group_a = [2 / (1 / 10 + 1 / 30), 2 / (1 / 12 + 1 / 12)]
  group_b = [2 / (1 / 5 + 1 / 10), 2 / (1 / 12 + 1 / 6)]
  per_group = np.array(group_a) / np.array(group_b)
  assert ratio == (f"{np.median(per_group):.3f} "
                   f"[{per_group.min():.3f}, {per_group.max():.3f}]")


def test_rounds_that_do_not_divide_into_groups_are_all_used():
  assert len(bench.group_rates([1.0] * 7, 3)) == 3
  np.testing.assert_allclose(bench.group_rates([2.0, 2.0, 4.0], 1),
                             [3 / (1 / 2 + 1 / 2 + 1 / 4)])


class _FakeTimed:
  """Stands in for bench_cases.Timed: logs its runs, reports a fixed rate."""

  def __init__(self, name, rate, log):
    self.name, self.rate, self.log = name, rate, log

  def run(self, steps):
    self.log.append((self.name, steps))
    return self.rate


def test_paired_rates_alternate_the_cases_build_by_build_after_a_warm_call():
  log = []
  builds_a = [_FakeTimed("a0", 10.0, log), _FakeTimed("a1", 30.0, log)]
  builds_b = [_FakeTimed("b0", 20.0, log), _FakeTimed("b1", 20.0, log)]
  rate_a, rate_b = bench.paired_rates(builds_a, builds_b, steps_a=8,
                                      steps_b=5)
  # 4 steps per build of A, 2 of B; each timing after one untimed call.
  assert log == [("a0", 1), ("a0", 4), ("b0", 1), ("b0", 2),
                 ("a1", 1), ("a1", 4), ("b1", 1), ("b1", 2)]
  # Equal steps per build: the rate is the steps over the summed time.
  assert rate_a == pytest.approx(2 / (1 / 10 + 1 / 30))
  assert rate_b == pytest.approx(20.0)
  log.clear()
  bench.paired_rates(builds_a, builds_b, steps_a=8, steps_b=5, b_first=True)
  assert [name for name, steps in log if steps > 1] == ["b0", "a0", "b1",
                                                         "a1"]


def test_cases_are_built_in_turn_forward_then_reverse(monkeypatch):
  built = []

  class FakeTimed:

    def __init__(self, case):
      built.append(case)

    def warm_up(self, seconds):
      return 10

  monkeypatch.setattr(bench_cases, "Timed", FakeTimed)
  builds, steps = bench.build_cases(["x", "y", "z"], count=3, seconds=0.1,
                                    log=lambda message: None)
  assert built == ["x", "y", "z", "z", "y", "x", "x", "y", "z"]
  assert [len(builds[case]) for case in "xyz"] == [3, 3, 3]
  assert steps == {"x": 10, "y": 10, "z": 10}


def test_rounds_time_every_row_with_its_own_cases(monkeypatch):
  rates = {"x": 10.0, "y": 20.0, "z": 40.0}

  class FakeTimed:

    def __init__(self, case):
      self.case = case

    def warm_up(self, seconds):
      return 4

    def run(self, steps):
      return rates[self.case]

  monkeypatch.setattr(bench_cases, "Timed", FakeTimed)
  rows = [bench.Comparison("x / y", "mlp", "x", "y", ""),
          bench.Comparison("z / y", "mlp", "z", "y", "")]
  timed = bench.time_rounds(rows, rounds=3, seconds=0.1, builds_per_case=2,
                            log=lambda message: None)
  assert timed == [([10.0] * 3, [20.0] * 3), ([40.0] * 3, [20.0] * 3)]


@pytest.mark.parametrize("flag", ["--rounds", "--groups", "--builds"])
def test_counts_below_one_are_refused_naming_the_flag(flag, capsys):
  with pytest.raises(SystemExit):
    bench._parse([flag, "0"])
  assert f"argument {flag}: expected a positive integer, got 0" in (
      capsys.readouterr().err)


def test_every_comparison_has_two_different_cases():
  for row in bench.comparisons(["mlp", "cnn"]):
    assert row.case_a != row.case_b, row.label
  labels = [row.label for row in bench.comparisons(["mlp"])]
  assert "steps_per_execution 8 / 1" in labels


def test_ghm_rows_show_ghm_in_column_a_and_ratio_its_step_time_over_ce():
  ghm_rows = [row for row in bench.comparisons(["mlp"])
              if row.label.startswith("step time ghm")]
  assert [row.label for row in ghm_rows] == [
      "step time ghm (sigmoid) / ce (= B / A steps/s)",
      "step time ghm (softmax) / ce (= B / A steps/s)"]
  for row in ghm_rows:
    assert row.case_a.loss == "ghm" and row.case_b == bench_cases.Case()
  # GHM at 80 steps/s, CE at 100: GHM's steps take 1.25 times as long.
  rows = bench.ratio_rows([ghm_rows[0]], [([80.0] * 4, [100.0] * 4)],
                          groups=2)
  assert rows[0][2:5] == ("80.0", "100.0", "1.250 [1.250, 1.250]")


def test_readme_block_is_replaced_between_the_markers_only():
  readme = ("# title\n" + bench_report.README_START + "\nold table\n" +
            bench_report.README_END + "\nafter\n")
  rows = [("x / y", "mlp w128", "1.0", "2.0", "0.500 [0.50, 0.50]", "")]
  updated = bench_report.with_readme_block(readme, rows, "Measured today.")
  assert "old table" not in updated
  assert updated.startswith("# title\n" + bench_report.README_START)
  assert updated.endswith(bench_report.README_END + "\nafter\n")
  assert "| x / y | mlp w128 | 1.0 | 2.0 | 0.500 [0.50, 0.50] |  |" in updated
  with pytest.raises(ValueError, match="README.md: expected the lines"):
    bench_report.with_readme_block("# no markers\n", rows, "")


@pytest.mark.parametrize("input_shape", [(28, 28), (28, 28, 1)])
def test_small_resnet_maps_images_to_9w_features(input_shape):
  model = resnet.small_resnet(input_shape, width=4)
  features = model(np.zeros((2, *input_shape), np.float32))
  assert features.shape == (2, 36)
  convs = [layer for layer in model.layers if "conv" in layer.name]
  assert len(convs) == 1 + 2 * 3 + 2  # stem, 3 blocks of 2, 2 projections


def test_committed_recipe_result_is_the_recipe_as_it_stands():
  # The committed number must be what rerunning the recipe reproduces.
  path = os.path.join(fashion_mnist.RESULTS_DIR, "results.json")
  with open(path, encoding="utf-8") as handle:
    recorded = json.load(handle)["config"]
  expected = json.loads(json.dumps(fashion_mnist.recipe_config().as_dict()))
  for cfg in (recorded, expected):
    del cfg["runtime"]["model_dir"]
  assert recorded == expected


def test_recipe_takes_the_research_train_flags_given():
  parsed_flags = helpers.parsed_flags()
  recipe = fashion_mnist.recipe_config()
  with flagsaver.as_parsed(epochs="3", learning_rate="0.05",
                           loss_weights="2,1", jit_compile="false"):
    cfg = fashion_mnist.command_line_config(parsed_flags)
  assert (cfg.train.epochs, cfg.optim.learning_rate) == (3, 0.05)
  assert cfg.loss.loss_weights == (2.0, 1.0)
  # Given on the command line, a flag wins even at its research.train default.
  assert cfg.runtime.jit_compile is False and recipe.runtime.jit_compile
  assert cfg.model == recipe.model and cfg.data == recipe.data
  assert cfg.runtime.model_dir.startswith(os.path.join("runs",
                                                       "fashion_mnist-"))
  with flagsaver.as_parsed(model_dir="/tmp/here"):
    assert fashion_mnist.command_line_config(
        parsed_flags).runtime.model_dir == "/tmp/here"


def test_recipe_results_describe_the_run_that_made_them(tmp_path):
  cfg = fashion_mnist.recipe_config().replace(
      model={"backbone": "cnn", "width": 8},
      optim={"lr_schedule": "constant"})
  results = {"wall_seconds": 600.0, "steps_per_second": 5.0,
             "test": {"fine/accuracy": 0.95, "coarse/accuracy": 0.99,
                      "joint/exact_match": 0.94}}
  record = fashion_mnist.summary(cfg, results, 1000.0, "a trial")
  assert record["targets_met"] and record["wall_minutes"] == 10.0
  fashion_mnist.write(record, str(tmp_path))
  with open(tmp_path / "results.md") as handle:
    text = handle.read()
  assert "- cnn width 8, 16 epochs, sgd lr 0.1 (constant)" in text
  assert "fine accuracy 0.9500 (target 0.94)" in text
  assert "- note: a trial" in text
  with open(tmp_path / "results.json") as handle:
    assert json.load(handle)["config"]["optim"]["lr_schedule"] == "constant"
  one_epoch = fashion_mnist.summary(cfg.replace(train={"epochs": 1}), results,
                                    1000.0, "")
  assert "- cnn width 8, 1 epoch, sgd" in fashion_mnist.markdown(one_epoch)
  results["test"]["coarse/accuracy"] = 0.9899
  assert not fashion_mnist.summary(cfg, results, 1000.0, "")["targets_met"]


def test_recipe_targets_are_met_at_exactly_the_target_accuracy():
  # 9400 and 9900 correct of 10000, as the float32 metric variables hold them.
  results = {"wall_seconds": 600.0, "steps_per_second": 5.0,
             "test": {"fine/accuracy": float(np.float32(9400) / 10000),
                      "coarse/accuracy": float(np.float32(9900) / 10000),
                      "joint/exact_match": 0.93}}
  assert results["test"]["fine/accuracy"] < 0.94
  record = fashion_mnist.summary(fashion_mnist.recipe_config(), results,
                                 1000.0, "")
  assert record["targets_met"]


def test_recipe_records_a_resumed_run_without_a_timed_epoch(tmp_path):
  results = {"wall_seconds": 600.0, "steps_per_second": None,
             "test": {"fine/accuracy": 0.9, "coarse/accuracy": 0.9,
                      "joint/exact_match": 0.9}}
  record = fashion_mnist.summary(fashion_mnist.recipe_config(), results,
                                 1000.0, "")
  fashion_mnist.write(record, str(tmp_path))
  with open(tmp_path / "results.md") as handle:
    assert "10.0 min wall, no timed steps/s" in handle.read()


def test_only_flags_that_change_the_recipe_count_as_changes():
  recipe = fashion_mnist.recipe_config()
  runtime_only = recipe.replace(runtime={"model_dir": "/tmp/x", "verbose": 0})
  assert fashion_mnist.changed_flags(runtime_only) == []
  trial = recipe.replace(train={"epochs": 1}, model={"width": 4})
  assert fashion_mnist.changed_flags(trial) == ["width", "epochs"]


def test_a_changed_recipe_without_results_dir_stops_before_training(
    monkeypatch):
  helpers.parsed_flags()
  monkeypatch.setattr(fashion_mnist.train, "run_or_exit",
                      lambda cfg: pytest.fail("training started"))
  with flagsaver.as_parsed(epochs="1", model_dir="/tmp/unused"):
    with pytest.raises(SystemExit, match=r"^error: this run changes the "
                       r"recipe \(--epochs\)"):
      fashion_mnist.main(["recipe"])


@pytest.mark.parametrize("builds, says", [
    (1, "Every case is built 1 time; each of 3"),
    (2, "Every case is built 2 times (in turn, forward then reverse order); "
        "each of 3")])
def test_report_says_how_often_each_case_was_built(builds, says):
  report = bench_report.markdown(rows=[], memory=[], rounds=3, groups=1,
                                 builds=builds, load=((0.0,), (0.0,)),
                                 skipped=[], note="")
  assert says in report
