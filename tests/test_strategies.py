"""Strategy factory, and one whole `training.run` on 2 replicas == 1 replica."""

import os
import urllib.error

import pytest
import tensorflow as tf

from research import config
from research import flags as flags_lib
from research import strategies
from research import training
from tests import helpers


def test_unknown_name_raises_naming_the_choices():
  with pytest.raises(ValueError, match="unknown strategy 'gpus'.*multi_worker"):
    strategies.build("gpus")


def test_flag_offers_exactly_the_factory_names():
  assert sorted(flags_lib.FLAGS["strategy"].parser.enum_values) == sorted(
      strategies.NAMES)


def test_default_and_one_device_have_one_replica():
  for name in ("default", "one_device"):
    strategy = strategies.build(name)
    assert strategy.num_replicas_in_sync == 1
    assert strategies.is_chief(strategy)
    assert not strategies.is_multi_worker(strategy)


def test_tpu_resolves_the_address_connects_and_initialises(monkeypatch):
  calls = []

  class FakeResolver:

    def __init__(self, tpu=None):
      calls.append(("resolve", tpu))

  monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver",
                      FakeResolver)
  monkeypatch.setattr(tf.config, "experimental_connect_to_cluster",
                      lambda r: calls.append(("connect", type(r))))
  monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system",
                      lambda r: calls.append(("initialise", type(r))))
  monkeypatch.setattr(tf.distribute, "TPUStrategy",
                      lambda r: ("tpu strategy", type(r)))
  strategy = strategies.build("tpu", tpu="grpc://10.0.0.2:8470")
  assert strategy == ("tpu strategy", FakeResolver)
  assert calls == [("resolve", "grpc://10.0.0.2:8470"),
                   ("connect", FakeResolver), ("initialise", FakeResolver)]
  calls.clear()
  strategies.build("tpu", tpu="")
  assert calls[0] == ("resolve", None)  # empty address: let TF find the TPU


@pytest.mark.parametrize("tpu, raised, message", [
    ("", ValueError("Please provide a TPU Name to connect to."),
     "--strategy=tpu: no TPU found (none local, none named by the "
     "environment); --tpu expects a TPU name or a grpc://host:port address "
     "(empty only on a TPU VM)"),
    ("mytpu", urllib.error.URLError("Name or service not known"),
     "--strategy=tpu: TPU 'mytpu' not found (<urlopen error Name or service "
     "not known>); --tpu expects"),
])
def test_tpu_that_cannot_be_found_is_a_config_error(monkeypatch, tpu, raised,
                                                     message):

  def failing_resolver(tpu=None):
    raise raised

  monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver",
                      failing_resolver)
  with pytest.raises(config.ConfigError) as error:
    strategies.build("tpu", tpu=tpu)
  assert str(error.value).startswith(message)


def test_single_process_writes_to_model_dir():
  strategy = tf.distribute.get_strategy()
  assert strategies.output_dir("/runs/a", strategy) == "/runs/a"


def test_step_outputs_keep_their_shape_off_multi_worker(two_replicas):
  values = tf.constant([1.5, 2.5])
  assert strategies.keras_step_outputs(values).shape == (2,)
  with two_replicas.scope():
    assert strategies.keras_step_outputs(values).shape == (2,)


def test_datasets_are_sharded_by_data_explicitly():
  dataset = strategies.shard_by_data(tf.data.Dataset.range(4))
  assert (dataset.options().experimental_distribute.auto_shard_policy ==
          tf.data.experimental.AutoShardPolicy.DATA)


def _tiny_config():
  return config.Config().replace(
      data={"synthetic_train_size": 120, "synthetic_feature_dim": 6},
      model={"width": 8, "dropout": 0.0, "l2": 1e-3},
      optim={"optimizer": "sgd", "learning_rate": 0.1},
      train={"epochs": 2, "batch_size": 25},  # 5 steps, the last one uneven
      runtime={"verbose": 0})


def test_training_run_on_two_replicas_equals_one_replica(tmp_path,
                                                         two_replicas):
  cfg = _tiny_config()
  single = training.run(cfg, str(tmp_path / "one"),
                        strategy=tf.distribute.get_strategy())
  mirrored = training.run(cfg, str(tmp_path / "two"), strategy=two_replicas)
  assert mirrored["num_replicas"] == 2
  metric_diff = max(abs(mirrored[split][name] - value)
                    for split in ("test", "validation")
                    for name, value in single[split].items())
  last = os.path.join("checkpoints", "last.weights.h5")
  weight_diff = helpers.max_abs_weight_diff(
      helpers.weight_file_arrays(tmp_path / "one" / last),
      helpers.weight_file_arrays(tmp_path / "two" / last))
  print(f"2 vs 1 replica after {cfg.train.epochs} epochs: max abs diff "
        f"weights {weight_diff:.2e}, metrics {metric_diff:.2e}")
  assert weight_diff < 1e-5
  assert metric_diff < 1e-5
