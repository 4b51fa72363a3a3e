"""Test setup: two logical CPU devices, created before any TF op runs.

MirroredStrategy over those two devices stands in for two GPUs. Only one
MirroredStrategy may exist per process (collective ops break otherwise), so
tests share the session fixture `two_replicas`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

_CPUS = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _CPUS[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(scope="session")
def two_replicas():
  """A MirroredStrategy over two logical CPU devices, shared by all tests."""
  devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
  return tf.distribute.MirroredStrategy(devices)


def pytest_configure(config):
  # Kept here rather than in a pytest.ini: the repository's top level is fixed.
  config.addinivalue_line(
      "markers", "slow: longer tests (real data, multi-process); still run in CI.")
  config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")
