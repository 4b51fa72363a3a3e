"""Strategy factory: `--strategy` name -> tf.distribute strategy, and the few
facts about the running strategy that training needs (who writes, how data is
sharded, how step outputs are shaped for Keras).

`multi_worker` must be built before any other TF op runs in the process
(collective ops are configured at startup): `training.run` builds the strategy
first, so entry points need do nothing special.
"""

import os

import tensorflow as tf

from research import config

NAMES = ("default", "one_device", "mirrored", "multi_worker", "tpu")


def build(name, tpu=None):
  """Returns the tf.distribute strategy called `name`.

  Args:
    name: one of NAMES.
    tpu: `tpu` only: TPU name or `grpc://host:port` address; None or "" lets
      the resolver find the local TPU (TPU VM) or the one in the environment.

  Returns:
    A tf.distribute.Strategy.

  Raises:
    ValueError: for an unknown name.
    config.ConfigError: for `tpu` when no TPU can be found.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "one_device":
    device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
    return tf.distribute.OneDeviceStrategy(device)
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    # Reads the cluster and this task from the TF_CONFIG environment variable;
    # without it this is a single worker over the local devices.
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    return _tpu_strategy(tpu)
  raise ValueError(f"unknown strategy {name!r}; expected one of {NAMES}")


def _tpu_strategy(address):
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=address or None)
  except (ValueError, OSError) as error:
    # No local TPU and no name in the environment: ValueError ("Please
    # provide a TPU Name"); a name the metadata server cannot resolve:
    # URLError, an OSError.
    found = (f"TPU {address!r} not found ({error})" if address else
             "no TPU found (none local, none named by the environment)")
    raise config.ConfigError(
        f"--strategy=tpu: {found}; --tpu expects a TPU name or a "
        "grpc://host:port address (empty only on a TPU VM)") from error
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def is_multi_worker(strategy):
  """True for a MultiWorkerMirroredStrategy spanning more than one worker."""
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return False
  cluster = strategy.cluster_resolver.cluster_spec()
  return sum(cluster.num_tasks(job) for job in cluster.jobs) > 1


def _task(strategy):
  """(task_type, task_id) of this process in a multi-worker cluster, or None."""
  if not is_multi_worker(strategy):
    return None
  resolver = strategy.cluster_resolver
  return resolver.task_type, resolver.task_id


def is_chief(strategy):
  """True for the one process that writes the run's records."""
  task = _task(strategy)
  if task is None:
    return True
  task_type, task_id = task
  jobs = strategy.cluster_resolver.cluster_spec().jobs
  return task_type == "chief" or (
      task_type == "worker" and task_id == 0 and "chief" not in jobs)


def output_dir(model_dir, strategy):
  """Where this process writes: `model_dir` for the chief, a subfolder else.

  Every worker must save checkpoints too (saving reads replicated variables
  collectively), but only the chief's records are the run's.
  """
  if is_chief(strategy):
    return model_dir
  task_type, task_id = _task(strategy)
  return os.path.join(model_dir, "workers", f"{task_type}_{task_id}")


def shard_by_data(dataset):
  """Shards `dataset` across workers by element (set explicitly, so tf.data
  neither tries file sharding first nor warns)."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options)


def keras_step_outputs(values):
  """Shapes a train/test step's output vector for Keras' replica reduction.

  Under multi-worker Keras reduces step outputs with a MEAN over axis 0, which
  would average the vector's entries into one (and fails on scalars,
  keras-team/keras#20585); a [1, n] value reduces to the same [n] vector.
  Other strategies take the values unchanged.
  """
  if not is_multi_worker(tf.distribute.get_strategy()):
    return values
  return tf.expand_dims(values, 0)
