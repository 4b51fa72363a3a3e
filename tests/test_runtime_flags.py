"""--jit_compile, --mixed_precision and --steps_per_execution: a short run with
each gives the default run's metrics (to a stated tolerance), loss scaling
reaches the gradients, and Throughput counts steps, not callbacks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags as absl_flags

from research import config
from research import flags as flags_lib
from research import model as model_lib
from research import restore
from research import runtime
from research import summaries
from research import training
from tests import helpers

_TINY = config.Config().replace(
    data={"synthetic_train_size": 320}, model={"width": 16},
    train={"epochs": 2, "batch_size": 64}, runtime={"verbose": 0})

# Metric -> absolute tolerance against the float32 run. XLA only reorders
# float32 sums (Adam amplifies that to ~1e-3 in 10 steps); float16 rounds
# activations to ~1e-3 and bfloat16 to ~1e-2. 1/80 = one test example.
_EXACT = {"loss": 1e-5, "fine/accuracy": 1e-6, "coarse/accuracy": 1e-6}
_XLA = {"loss": 5e-3, "fine/accuracy": 1 / 80, "coarse/accuracy": 1 / 80}
_FLOAT16 = {"loss": 0.02, "fine/accuracy": 0.05, "coarse/accuracy": 0.05}
_BFLOAT16 = {"loss": 0.1, "fine/accuracy": 0.1, "coarse/accuracy": 0.1}


@pytest.fixture(scope="module")
def default_results(tmp_path_factory):
  return training.run(_TINY, str(tmp_path_factory.mktemp("default")))


@pytest.mark.parametrize("runtime_flags, tolerance", [
    ({"steps_per_execution": 5}, _EXACT),  # 320 / 64 = 5 steps per epoch
    ({"jit_compile": True}, _XLA),
    ({"mixed_precision": "mixed_float16"}, _FLOAT16),
    ({"mixed_precision": "mixed_bfloat16"}, _BFLOAT16),
], ids=["steps_per_execution", "jit_compile", "float16", "bfloat16"])
def test_short_run_matches_default(default_results, tmp_path, runtime_flags,
                                   tolerance):
  results = training.run(_TINY.replace(runtime=runtime_flags), str(tmp_path))
  for split in ("validation", "test"):
    for name, atol in tolerance.items():
      np.testing.assert_allclose(
          results[split][name], default_results[split][name], atol=atol,
          err_msg=f"{split} {name} with {runtime_flags}")
  assert results["steps_per_second"] > 0
  assert keras.mixed_precision.global_policy().name == "float32"


def test_a_mixed_precision_run_is_restored_in_its_precision(tmp_path):
  training.run(_TINY.replace(train={"epochs": 1},
                             runtime={"mixed_precision": "mixed_bfloat16"}),
               str(tmp_path))
  model = restore.restore(str(tmp_path)).model
  assert model.backbone.layers[-1].compute_dtype == "bfloat16"
  assert keras.mixed_precision.global_policy().name == "float32"


def test_precision_policy_applies_inside_and_restores_after():
  spec = helpers.tiny_spec()
  with runtime.precision_policy("mixed_bfloat16"):
    model = helpers.tiny_model(spec)
  assert keras.mixed_precision.global_policy().name == "float32"
  assert model.backbone.layers[-1].compute_dtype == "bfloat16"
  assert {v.dtype for v in model.weights} == {"float32"}
  with pytest.raises(ValueError, match="--mixed_precision='half'"):
    with runtime.precision_policy("half"):
      pass


@pytest.mark.parametrize("head, loss", [("independent", "ce"),
                                        ("conditioned", "ce"),
                                        ("joint", "multilabel_ce")])
def test_logits_are_float32_under_mixed_precision(head, loss):
  # The last layers compute in float32: probabilities sum to 1 to float32
  # precision, and a runtime flag does not change the outputs' dtype.
  spec = helpers.tiny_spec()
  with runtime.precision_policy("mixed_bfloat16"):
    model = model_lib.build(config.ModelConfig(width=8, head=head),
                            config.LossConfig(loss=loss), spec)
  features, labels = helpers.first_batch(spec.splits["train"], 4)
  assert model.backbone.layers[-1].compute_dtype == "bfloat16"
  for logits in (model(features),
                 model(features, training=True,
                       coarse_teacher=labels["coarse"])):
    assert {str(v.dtype) for v in logits.values()} == {"<dtype: 'float32'>"}


def _sgd_step_weight_change(precision):
  spec = helpers.tiny_spec()
  with runtime.precision_policy(precision):
    keras.utils.set_random_seed(3)
    model = helpers.tiny_model(spec)
  model.compile(optimizer=keras.optimizers.SGD(0.1))
  before = [w.numpy() for w in model.trainable_weights]
  model.fit(spec.splits["train"].examples.batch(16), epochs=1, verbose=0)
  after = [w.numpy() for w in model.trainable_weights]
  return model, np.concatenate([(a - b).ravel() for a, b in zip(after, before)])


def test_float16_scales_the_loss_and_unscales_the_gradients():
  model, float16_change = _sgd_step_weight_change("mixed_float16")
  _, float32_change = _sgd_step_weight_change("none")
  assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
  # Unscaled gradients would be 2**15 times too small; scaled ones would be
  # lost if apply() did not divide them back.
  np.testing.assert_allclose(float16_change, float32_change, atol=2e-3)
  assert np.abs(float32_change).max() > 1e-2


def test_jit_compile_with_two_cpu_replicas_fails_with_a_clear_error(
    two_replicas):
  cfg = config.RuntimeConfig(strategy="mirrored", jit_compile=True)
  with pytest.raises(config.ConfigError,
                     match="--jit_compile .* several replicas"):
    runtime.compile_options(cfg, two_replicas)
  options = runtime.compile_options(config.RuntimeConfig(), two_replicas)
  assert options == {"jit_compile": False, "steps_per_execution": 1}


def test_steps_per_execution_with_two_replicas_fails_with_a_clear_error(
    two_replicas):
  # Plain Keras fails there too, deep inside fit (keras-team/keras#19246).
  cfg = config.RuntimeConfig(strategy="mirrored", steps_per_execution=4)
  with pytest.raises(config.ConfigError,
                     match="--steps_per_execution=4 .* several"):
    runtime.compile_options(cfg, two_replicas)
  options = runtime.compile_options(cfg, tf.distribute.get_strategy())
  assert options == {"jit_compile": False, "steps_per_execution": 4}


@pytest.mark.parametrize("steps_per_execution", [1, 3, 5])
def test_throughput_counts_steps_not_callbacks(steps_per_execution):
  spec = helpers.tiny_spec(size=40)
  model = helpers.tiny_model(spec)
  model.compile(optimizer="sgd", steps_per_execution=steps_per_execution)
  throughput = summaries.Throughput()
  batches = int(np.ceil(40 / 4))  # 10 batches: 3 and 5 leave a short call
  model.fit(spec.splits["train"].examples.batch(4), epochs=2, verbose=0,
            callbacks=[throughput])
  assert throughput.steps == batches  # epoch 0 (tracing) is left out
  assert model.optimizer.iterations.numpy() == 2 * batches


@pytest.mark.parametrize("initial_epoch, timed_epochs", [(1, 2), (3, 0)])
def test_throughput_leaves_out_the_tracing_epoch_of_a_resumed_run(
    initial_epoch, timed_epochs):
  spec = helpers.tiny_spec(size=40)
  model = helpers.tiny_model(spec)
  model.compile(optimizer="sgd")
  throughput = summaries.Throughput()
  model.fit(spec.splits["train"].examples.batch(4), epochs=4, verbose=0,
            initial_epoch=initial_epoch, callbacks=[throughput])
  # A resumed process's only epoch includes tracing: not timed, so a table
  # does not average it with rates that leave tracing out.
  assert throughput.steps == 10 * timed_epochs
  assert (throughput.steps_per_second is None) == (timed_epochs == 0)


def test_throughput_times_the_only_epoch_of_a_fresh_run():
  spec = helpers.tiny_spec(size=40)
  model = helpers.tiny_model(spec)
  model.compile(optimizer="sgd")
  throughput = summaries.Throughput()
  model.fit(spec.splits["train"].examples.batch(4), epochs=1, verbose=0,
            callbacks=[throughput])
  assert throughput.steps == 10 and throughput.steps_per_second > 0


def test_steps_per_execution_flag_rejects_zero():
  try:
    with pytest.raises(absl_flags.IllegalFlagValueError,
                       match="--steps_per_execution=0: expected an integer"):
      flags_lib.FLAGS(["train", "--steps_per_execution=0"])
  finally:
    flags_lib.FLAGS.unparse_flags()
