"""Runtime options that change speed, not results: XLA, precision, steps per call.

`training.run` builds the model inside `precision_policy(...)` and passes
`compile_options(...)` to `model.compile`. Mixed float16 needs loss scaling:
`compile` wraps the optimizer in a `LossScaleOptimizer` when the model's policy
is `mixed_float16`, and `TwoHeadModel.train_step` scales the loss through
`optimizer.scale_loss` as Keras's own train_step does.
"""

import contextlib

import keras
import tensorflow as tf

from research import config

# --mixed_precision choices; "none" keeps everything in float32.
PRECISIONS = ("none", "mixed_bfloat16", "mixed_float16")


@contextlib.contextmanager
def precision_policy(name):
  """Sets the Keras dtype policy `name` while layers are created, then restores.

  Layers keep the policy they were built with, so the model stays mixed after
  the block while later models in the same process (tests, sweeps) do not.
  """
  if name not in PRECISIONS:
    raise ValueError(f"--mixed_precision={name!r}: expected one of {PRECISIONS}")
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(
      "float32" if name == "none" else name)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def compile_options(runtime_cfg, strategy):
  """Keyword arguments for `model.compile` from config.RuntimeConfig.

  Args:
    runtime_cfg: config.RuntimeConfig (jit_compile, steps_per_execution).
    strategy: the tf.distribute strategy the model is compiled under.

  Returns:
    {"jit_compile": bool, "steps_per_execution": int}.

  Raises:
    ValueError: for --jit_compile with several replicas on CPU, where XLA fails
      deep inside fit ("Trying to access resource ... located in device
      CPU:1 from device CPU:0"), and for --steps_per_execution > 1 with
      several replicas outside TPUs, where Keras' multi-step loop fails
      ("You must feed a value for placeholder tensor ...",
      keras-team/keras#19246); say so before training starts.
  """
  on_gpu = bool(tf.config.list_logical_devices("GPU"))
  if (runtime_cfg.jit_compile and strategy.num_replicas_in_sync > 1
      and not on_gpu):
    raise config.ConfigError(
        "--jit_compile does not work with several replicas on CPU "
        f"(--strategy={runtime_cfg.strategy}, "
        f"{strategy.num_replicas_in_sync} replicas): XLA cannot reach the "
        "other CPU device's variables; use --strategy=default or one_device, "
        "or drop --jit_compile")
  if (runtime_cfg.steps_per_execution > 1
      and strategy.num_replicas_in_sync > 1
      and not isinstance(strategy, tf.distribute.TPUStrategy)):
    raise config.ConfigError(
        f"--steps_per_execution={runtime_cfg.steps_per_execution} does not "
        f"work with several replicas (--strategy={runtime_cfg.strategy}, "
        f"{strategy.num_replicas_in_sync} replicas): Keras' multi-step loop "
        "fails under them (keras-team/keras#19246); use "
        "--steps_per_execution=1 or a single-replica strategy")
  return {"jit_compile": runtime_cfg.jit_compile,
          "steps_per_execution": runtime_cfg.steps_per_execution}


def check_steps_per_execution(steps_per_execution, steps_per_epoch):
  """Raises config.ConfigError unless the calls of a multi-step run fill
  each epoch exactly.

  Keras runs whole calls: on a stream of all epochs' batches (as training
  fits) an epoch of S steps gets ceil(S / N) * N, taking the next epoch's
  batches, so every later epoch's logs, checkpoints and learning rate fall
  at the wrong step and a resume no longer replays the same run.
  """
  if steps_per_epoch % steps_per_execution:
    raise config.ConfigError(
        f"--steps_per_execution={steps_per_execution} does not divide the "
        f"{steps_per_epoch} training steps of an epoch (--batch_size and the "
        "training split's size); Keras would run "
        f"{-(-steps_per_epoch // steps_per_execution) * steps_per_execution} "
        "per epoch. Use a divisor of the epoch's steps")
