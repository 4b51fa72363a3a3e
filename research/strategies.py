"""Strategy factory: `--strategy` name -> tf.distribute strategy."""

import tensorflow as tf

NAMES = ("default", "one_device", "mirrored")


def build(name):
  """Returns the tf.distribute strategy called `name`; raises on unknown names."""
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "one_device":
    device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
    return tf.distribute.OneDeviceStrategy(device)
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  raise ValueError(f"unknown strategy {name!r}; expected one of {NAMES}")
