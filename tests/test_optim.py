"""RAdam, Lookahead, SGD options and the warmup against their update rules,
in numpy."""

import keras
import numpy as np
import pytest

from research import config
from research import optim
from research import optimizers
from research import schedules

GRADIENTS = np.array([[0.5, -1.0, 2.0], [0.1, 0.3, -0.2], [-1.5, 0.0, 0.7],
                      [0.2, -0.4, 0.9], [1.0, 1.0, -1.0], [0.3, 0.2, 0.1],
                      [-0.6, 0.8, 0.05]])


def _run(optimizer, gradients, start, dtype="float32"):
  variable = keras.Variable(np.array(start), dtype=dtype)
  for gradient in gradients:
    optimizer.apply([keras.ops.convert_to_tensor(gradient, dtype)], [variable])
  return variable.numpy()


def _numpy_radam(gradients, start, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
  theta = np.array(start, np.float64)
  m = np.zeros_like(theta)
  v = np.zeros_like(theta)
  rho_inf = 2 / (1 - beta_2) - 1
  for t, g in enumerate(gradients, start=1):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    m_hat = m / (1 - beta_1**t)
    rho = rho_inf - 2 * t * beta_2**t / (1 - beta_2**t)
    if rho > 4:
      r = np.sqrt((rho - 4) * (rho - 2) * rho_inf /
                  ((rho_inf - 4) * (rho_inf - 2) * rho))
      theta -= lr * r * m_hat / (np.sqrt(v / (1 - beta_2**t)) + eps)
    else:
      theta -= lr * m_hat
  return theta


@pytest.mark.parametrize("beta_2", [0.999, 0.5])  # 0.5: rectified from step 2
@pytest.mark.parametrize("scale", [1.0, 1e-4])  # 1e-4: epsilon matters
def test_radam_follows_the_paper(beta_2, scale):
  # float64: rho_t near its threshold of 4 cancels badly in float32.
  start = [1.0, -2.0, 0.5]
  got = _run(optimizers.RAdam(0.1, beta_2=beta_2), GRADIENTS * scale, start,
             dtype="float64")
  np.testing.assert_allclose(got, _numpy_radam(GRADIENTS * scale, start, 0.1,
                                               beta_2=beta_2), rtol=1e-5)


def test_radam_in_float32_follows_the_paper_from_its_first_rectified_step():
  # The default beta_2 rectifies from step 5, where rho_t is just over 4.
  gradients = np.random.default_rng(0).normal(size=(30, 3))
  start = [1.0, -2.0, 0.5]
  for step in (5, 6, 10, 30):
    got = (_run(optimizers.RAdam(0.1), gradients[:step], start) -
           _run(optimizers.RAdam(0.1), gradients[:step - 1], start))
    want = (_numpy_radam(gradients[:step], start, 0.1) -
            _numpy_radam(gradients[:step - 1], start, 0.1))
    np.testing.assert_allclose(got, want, rtol=1e-3,
                               err_msg=f"update of step {step}")


def test_lookahead_over_sgd_follows_the_paper():
  start, lr, period, alpha = [1.0, -2.0, 0.5], 0.1, 3, 0.5
  optimizer = optimizers.with_lookahead(keras.optimizers.SGD)(
      lr, sync_period=period, slow_step_size=alpha)
  fast = np.array(start, np.float64)
  slow = fast.copy()
  for t, g in enumerate(GRADIENTS, start=1):
    fast -= lr * g
    if t % period == 0:
      slow += alpha * (fast - slow)
      fast = slow.copy()
  np.testing.assert_allclose(_run(optimizer, GRADIENTS, start), fast,
                             rtol=1e-6)


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_every_optimizer_builds_with_and_without_lookahead(name):
  for period in (0, 5):
    cfg = config.OptimConfig(optimizer=name, lookahead_sync_period=period)
    optimizer = optim.build(cfg, epochs=2, steps_per_epoch=5)
    assert np.isfinite(_run(optimizer, GRADIENTS[:2], [1.0, 1.0, 1.0])).all()


def test_nesterov_sgd_follows_its_update_rule():
  start, lr, momentum = [1.0, -2.0, 0.5], 0.1, 0.8
  cfg = config.OptimConfig(optimizer="sgd", learning_rate=lr,
                           lr_schedule="constant", sgd_momentum=momentum,
                           sgd_nesterov=True)
  theta = np.array(start, np.float64)
  velocity = np.zeros_like(theta)
  for g in GRADIENTS:
    velocity = momentum * velocity - lr * g
    theta += momentum * velocity - lr * g
  got = _run(optim.build(cfg, epochs=1, steps_per_epoch=len(GRADIENTS)),
             GRADIENTS, start)
  np.testing.assert_allclose(got, theta, rtol=1e-6)


@pytest.mark.parametrize("lr_schedule", ["constant", "cosine"])
def test_warmup_rises_linearly_then_the_schedule_spans_the_rest(lr_schedule):
  peak, epochs, steps_per_epoch, warmup_epochs = 0.4, 3, 4, 0.8  # 3 steps
  cfg = config.OptimConfig(learning_rate=peak, lr_schedule=lr_schedule,
                           warmup_epochs=warmup_epochs)
  rate = optim.schedule(cfg, epochs, steps_per_epoch)
  warmup, total = 3, epochs * steps_per_epoch
  expected = [peak * (step + 1) / warmup for step in range(warmup)]
  for step in range(total - warmup):
    decay = 0.5 * (1 + np.cos(np.pi * step / (total - warmup)))
    expected.append(peak * (decay if lr_schedule == "cosine" else 1.0))
  got = [float(rate(step)) for step in range(total)]
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_warmup_survives_keras_serialization():
  rate = schedules.LinearWarmup(
      0.1, 5, keras.optimizers.schedules.CosineDecay(0.1, 20))
  restored = keras.optimizers.schedules.deserialize(
      keras.optimizers.schedules.serialize(rate))
  for step in (0, 4, 5, 17):
    assert float(restored(step)) == pytest.approx(float(rate(step)))


def test_sgd_options_given_to_another_optimizer_are_refused():
  for options in ({"sgd_nesterov": True}, {"sgd_momentum": 0.5}):
    cfg = config.OptimConfig(optimizer="adam", **options)
    with pytest.raises(config.ConfigError, match="--optimizer=sgd only"):
      optim.build(cfg, epochs=2, steps_per_epoch=5)


def test_a_warmup_as_long_as_the_run_is_refused():
  cfg = config.OptimConfig(warmup_epochs=2)
  with pytest.raises(config.ConfigError,
                     match=r"--warmup_epochs=2 is 10 steps but the run has 10"):
    optim.build(cfg, epochs=2, steps_per_epoch=5)


def _constant_lr_config(**kw):
  return config.OptimConfig(learning_rate=0.1, lr_schedule="constant", **kw)


@pytest.mark.parametrize("period", [0, 3])
def test_sgd_from_config_has_momentum_and_the_configured_lookahead(period):
  # Keras SGD: velocity = 0.9 velocity - lr g; theta += velocity. Lookahead
  # with the config's slow step size (0.8, not the 0.5 default).
  cfg = _constant_lr_config(optimizer="sgd", lookahead_sync_period=period,
                            lookahead_step_size=0.8)
  start, lr = [1.0, -2.0, 0.5], 0.1
  fast = np.array(start, np.float64)
  slow, velocity = fast.copy(), np.zeros(3)
  for t, g in enumerate(GRADIENTS, start=1):
    velocity = 0.9 * velocity - lr * g
    fast += velocity
    if period and t % period == 0:
      slow += 0.8 * (fast - slow)
      fast = slow.copy()
  np.testing.assert_allclose(
      _run(optim.build(cfg, epochs=2, steps_per_epoch=5), GRADIENTS, start), fast,
      rtol=1e-5)


def test_adamw_from_config_decays_weights_by_lr_times_weight_decay():
  # Decoupled decay (Loshchilov & Hutter): with zero gradients the Adam step
  # is 0 and every step multiplies the weights by 1 - lr * weight_decay.
  cfg = _constant_lr_config(optimizer="adamw", weight_decay=0.5)
  start = [1.0, -2.0, 0.5]
  got = _run(optim.build(cfg, epochs=2, steps_per_epoch=5), np.zeros((4, 3)), start)
  np.testing.assert_allclose(got, np.array(start) * (1 - 0.1 * 0.5) ** 4,
                             rtol=1e-6)


def test_cosine_schedule_reaches_zero_at_the_last_step():
  # lr_t = lr * (1 + cos(pi * t / T)) / 2 (SGDR without restarts).
  lr = optim.schedule(config.OptimConfig(learning_rate=0.2), epochs=2,
                      steps_per_epoch=4)
  for step in (0, 2, 4, 8):
    np.testing.assert_allclose(
        float(lr(step)), 0.2 * (1 + np.cos(np.pi * step / 8)) / 2, atol=1e-7)


@pytest.mark.parametrize("warmup_epochs, steps_per_epoch, warmup_steps", [
    (0.57, 100, 57), (0.29, 100, 29), (0.58, 50, 29), (0.5, 7, 3)])
def test_warmup_steps_round_down_the_decimal_value(
    warmup_epochs, steps_per_epoch, warmup_steps):
  # 0.57 * 100 is 56.99999999999999 in floating point: still 57 steps.
  cfg = config.OptimConfig(learning_rate=1.0, lr_schedule="constant",
                           warmup_epochs=warmup_epochs)
  rate = optim.schedule(cfg, 2, steps_per_epoch)
  assert float(rate(warmup_steps - 1)) == pytest.approx(1.0)
  assert float(rate(warmup_steps - 2)) == pytest.approx(
      (warmup_steps - 1) / warmup_steps)
