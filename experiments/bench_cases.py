"""What the benchmark times: one compiled model and a batch iterator per case.

A case is our TwoHeadModel (custom train_step) or the same network built as a
functional Keras model with compile-time losses for both heads, which is what a
user would write without this codebase. Both get the same data, optimizer and
batch size; only the training step differs.
"""

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from research import config
from research import model as model_lib
from research import runtime
from research.data import pipeline
from research.data import spec as spec_lib

BATCH_SIZE = 64
_IMAGE_SHAPE = (28, 28, 1)  # Fashion-MNIST sized images for the conv backbones
_NUM_COARSE, _NUM_FINE = 4, 27


@dataclasses.dataclass(frozen=True)
class Case:
  """One timed configuration."""
  backbone: str = "mlp"
  functional: bool = False  # the compile-time-loss baseline instead of ours
  loss: str = "ce"
  loss_options: tuple = ()  # (LossConfig field, value) pairs, e.g. ghm_form
  jit_compile: bool = False
  mixed_precision: str = "none"
  steps_per_execution: int = 1


def task(backbone, size=2048, seed=0):
  """A random 4x27 task: dense vectors for mlp, 28x28 images otherwise.

  The labels carry no signal: only the step rate is measured here.
  """
  rng = np.random.default_rng(seed)
  input_shape = (32,) if backbone == "mlp" else _IMAGE_SHAPE
  inputs = rng.normal(size=(size, *input_shape)).astype(np.float32)
  fine = rng.integers(0, _NUM_FINE, size).astype(np.int32)
  fine_to_coarse = (np.arange(_NUM_FINE) * _NUM_COARSE // _NUM_FINE)
  split = spec_lib.split_from_arrays(inputs, fine_to_coarse[fine], fine)
  return spec_lib.DataSpec(
      name="bench", input_shape=input_shape,
      input_kind="features" if backbone == "mlp" else "image",
      coarse_names=tuple(map(str, range(_NUM_COARSE))),
      fine_names=tuple(map(str, range(_NUM_FINE))),
      splits={"train": split}, fine_to_coarse=fine_to_coarse)


def width(backbone):
  """Backbone width used in the benchmark: the default for mlp, small else."""
  return {"mlp": 128, "cnn": 32}.get(backbone, 16)


def functional_model(parts, spec):
  """The backbone, dropout and head of TwoHeadModel `parts`, rewired as a
  functional model with outputs {"coarse", "fine"} (so it is the same network
  whatever builder made it), to be compiled with per-output losses."""
  inputs = keras.Input(shape=spec.input_shape)
  features = parts.feature_dropout(parts.backbone(inputs))
  return keras.Model(inputs, parts.head(features), name="functional_baseline")


def _compile_functional(model, options):
  ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
  model.compile(
      optimizer=keras.optimizers.Adam(1e-3),
      loss={"coarse": ce, "fine": ce},
      metrics={"coarse": ["accuracy"],
               "fine": ["accuracy",
                        keras.metrics.SparseTopKCategoricalAccuracy(3)]},
      **options)


def build(case, spec):
  """Returns a compiled model for `case` on `spec`."""
  model_cfg = config.ModelConfig(backbone=case.backbone,
                                 width=width(case.backbone))
  runtime_cfg = config.RuntimeConfig(
      jit_compile=case.jit_compile, mixed_precision=case.mixed_precision,
      steps_per_execution=case.steps_per_execution)
  options = runtime.compile_options(runtime_cfg, tf.distribute.get_strategy())
  keras.utils.set_random_seed(0)
  with runtime.precision_policy(case.mixed_precision):
    model = model_lib.build(model_cfg, config.LossConfig(
        loss=case.loss, **dict(case.loss_options)), spec)
    if case.functional:
      model = functional_model(model, spec)
      _compile_functional(model, options)
      return model
  model.compile(optimizer=keras.optimizers.Adam(1e-3), **options)
  return model


class Timed:
  """A built case with its own endless batch iterator and a step timer."""

  def __init__(self, case, spec=None, batches=None):
    """`spec` defaults to `task(case.backbone)`, `batches` to its training
    split, batched and repeated."""
    self.case = case
    spec = spec or task(case.backbone)
    self.model = build(case, spec)
    if batches is None:
      batches = pipeline.batched(spec.splits["train"], BATCH_SIZE,
                                 training=True).cache().repeat()
    self.steps_per_call = case.steps_per_execution
    # One short fit builds the optimizer, compiled metrics and the function
    # exactly as fit() would; the timed calls then reuse that function.
    self.model.fit(batches, steps_per_epoch=self.steps_per_call, epochs=1,
                   verbose=0)
    self._train = self.model.train_function
    self._iterator = iter(batches)

  def run(self, steps):
    """Runs about `steps` training steps; returns steps per second."""
    calls = max(1, steps // self.steps_per_call)
    start = time.perf_counter()
    for _ in range(calls):
      logs = self._train(self._iterator)
    float(next(iter(logs.values())))  # wait for the last step to finish
    return calls * self.steps_per_call / (time.perf_counter() - start)

  def warm_up(self, seconds):
    """Runs the traced step a little, then returns how many steps (whole
    calls) take about `seconds`."""
    rate = self.run(2 * self.steps_per_call)
    calls = max(1, round(rate * seconds / self.steps_per_call))
    return calls * self.steps_per_call
