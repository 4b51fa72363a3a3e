"""The benchmark's arithmetic and README block, and the recipe's backbone.

No timing is asserted: step rates depend on the machine and its load.
"""

import json
import os

import numpy as np
import pytest

from experiments import bench
from experiments import bench_cases
from experiments import bench_report
from experiments.recipes import fashion_mnist
from research.backbones import resnet


def test_ratio_is_the_median_over_groups_of_group_rate_ratios():
  fast, slow = bench_cases.Case(), bench_cases.Case(functional=True)
  rates = {fast: [10.0, 30.0, 12.0, 12.0], slow: [5.0, 10.0, 12.0, 6.0]}
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
                   f"[{per_group.min():.2f}, {per_group.max():.2f}]")


def test_rounds_that_do_not_divide_into_groups_are_all_used():
  assert len(bench.group_rates([1.0] * 7, 3)) == 3
  np.testing.assert_allclose(bench.group_rates([2.0, 2.0, 4.0], 1),
                             [3 / (1 / 2 + 1 / 2 + 1 / 4)])


def test_every_comparison_has_two_different_cases():
  for label, _, case_a, case_b, _ in bench.comparisons(["mlp", "cnn"]):
    assert case_a != case_b, label
  labels = [row[0] for row in bench.comparisons(["mlp"])]
  assert "steps_per_execution 8 / 1" in labels
  assert {"step time ghm (sigmoid) / ce",
          "step time ghm (softmax) / ce"} <= set(labels)


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


def test_recipe_config_is_valid_once_the_source_exists():
  cfg = fashion_mnist.recipe_config(epochs=1)
  assert cfg.data.dataset == "fashion_mnist"
  assert cfg.model.backbone == "small_resnet"


def test_committed_recipe_result_is_the_recipe_as_it_stands():
  # The committed number must be what rerunning the recipe reproduces.
  path = os.path.join(fashion_mnist.RESULTS_DIR, "results.json")
  with open(path, encoding="utf-8") as handle:
    recorded = json.load(handle)["config"]
  expected = json.loads(json.dumps(fashion_mnist.recipe_config().as_dict()))
  for cfg in (recorded, expected):
    del cfg["runtime"]["model_dir"]
  assert recorded == expected


def test_recipe_overrides_parse_as_the_field_types():
  cfg = fashion_mnist.config.Config()
  changes = fashion_mnist.overrides(
      cfg, ["optim.learning_rate=0.05", "train.batch_size=256",
            "runtime.jit_compile=true", "optim.optimizer=adam"])
  assert changes == {"optim": {"learning_rate": 0.05, "optimizer": "adam"},
                     "train": {"batch_size": 256},
                     "runtime": {"jit_compile": True}}
  with pytest.raises(ValueError, match="--set optim.nope=1: expected"):
    fashion_mnist.overrides(cfg, ["optim.nope=1"])
