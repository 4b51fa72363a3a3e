"""Small builders shared by tests: a tiny task and model, numpy references."""

from absl import flags as absl_flags
from absl.testing import flagsaver
import h5py
import keras
import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from research import config
from research import model as model_lib
from research.data import spec as spec_lib

NUM_COARSE, NUM_FINE, FEATURES = 3, 7, 5


def tiny_spec(size=16, seed=0, missing=False):
  """A random task with `size` examples per split; some labels -1 if missing."""
  rng = np.random.default_rng(seed)
  fine_to_coarse = np.arange(NUM_FINE) % NUM_COARSE
  splits = {}
  for name in ("train", "validation", "test"):
    fine = rng.integers(0, NUM_FINE, size)
    coarse = fine_to_coarse[fine]
    if missing:
      coarse = np.where(rng.random(size) < 0.3, -1, coarse)
      fine = np.where(rng.random(size) < 0.3, -1, fine)
    features = rng.normal(size=(size, FEATURES)).astype(np.float32)
    splits[name] = spec_lib.split_from_arrays(features, coarse, fine)
  return spec_lib.DataSpec(
      name="tiny", input_shape=(FEATURES,), input_kind="features",
      coarse_names=tuple(map(str, range(NUM_COARSE))),
      fine_names=tuple(map(str, range(NUM_FINE))), splits=splits,
      fine_to_coarse=fine_to_coarse)


def tiny_model(spec, loss="ce", loss_weights=(1.0, 1.0), l2=0.0, dropout=0.0,
               **model_kw):
  model_cfg = config.ModelConfig(width=8, dropout=dropout, l2=l2, **model_kw)
  loss_cfg = config.LossConfig(loss=loss, loss_weights=loss_weights)
  return model_lib.build(model_cfg, loss_cfg, spec)


def tiny_image_spec(size=8):
  """A random task of `size` 8x8 RGB images, 2 coarse and 4 fine classes."""
  rng = np.random.default_rng(0)
  fine = rng.integers(0, 4, size)
  split = spec_lib.split_from_arrays(
      rng.random((size, 8, 8, 3), np.float32), fine // 2, fine)
  return spec_lib.DataSpec(
      name="tiny_images", input_shape=(8, 8, 3), input_kind="image",
      coarse_names=("a", "b"), fine_names=("0", "1", "2", "3"),
      splits={"train": split}, fine_to_coarse=np.array([0, 0, 1, 1]))


def first_batch(split, size):
  """(features, {"coarse", "fine"}) numpy arrays of the first `size` examples."""
  features, labels = next(iter(split.examples.batch(size)))
  return features.numpy(), {k: v.numpy() for k, v in labels.items()}


def numpy_log_softmax(logits):
  """log softmax over the last axis of [n, C] logits, in float64."""
  logits = np.asarray(logits, np.float64)
  shifted = logits - logits.max(axis=1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def numpy_softmax(logits):
  """softmax over the last axis of [n, C] logits, in float64."""
  logits = np.asarray(logits, np.float64)
  exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
  return exponentials / exponentials.sum(axis=1, keepdims=True)


def numpy_ce(logits, labels):
  """Mean softmax cross-entropy over labels >= 0, in float64."""
  log_probs = numpy_log_softmax(logits)
  valid = labels >= 0
  if not valid.any():
    return 0.0
  return float(-log_probs[valid, labels[valid]].mean())


def one_sgd_step(strategy, spec, features, labels, **model_kw):
  """Weights and logs after one SGD step on the whole batch under `strategy`."""
  with strategy.scope():
    keras.utils.set_random_seed(1)
    model = tiny_model(spec, **model_kw)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
  dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(
      len(features))
  logs = model.fit(dataset, epochs=1, verbose=0, shuffle=False).history
  return [w.numpy() for w in model.weights], logs


def assert_replica_invariant(two_replicas, **model_kw):
  """One step on 2 replicas equals one step on 1 (uneven 8 + 7 split, -1s)."""
  spec = tiny_spec(size=15, missing=True)
  features, labels = first_batch(spec.splits["train"], 15)
  single_weights, single_logs = one_sgd_step(
      tf.distribute.get_strategy(), spec, features, labels, **model_kw)
  mirrored_weights, mirrored_logs = one_sgd_step(
      two_replicas, spec, features, labels, **model_kw)
  for single, mirrored in zip(single_weights, mirrored_weights):
    np.testing.assert_allclose(mirrored, single, atol=1e-6)
  for name, values in single_logs.items():
    np.testing.assert_allclose(mirrored_logs[name], values, atol=1e-6,
                               err_msg=name)


def weight_file_arrays(path):
  """Dataset path -> array of every dataset in a Keras `.weights.h5` file."""
  with h5py.File(path, "r") as handle:
    arrays = {}
    handle.visititems(lambda name, item: arrays.update(
        {name: item[()]}) if isinstance(item, h5py.Dataset) else None)
  return arrays


def max_abs_weight_diff(a, b):
  """Largest absolute difference of the float arrays of two weight files."""
  assert a.keys() == b.keys()
  return max(float(np.max(np.abs(a[k] - b[k]))) for k in a
             if a[k].dtype.kind == "f")


def parsed_flags():
  """absl's FLAGS, marked parsed as `app.run` would leave them."""
  if not absl_flags.FLAGS.is_parsed():
    absl_flags.FLAGS.mark_as_parsed()
  return absl_flags.FLAGS


def run_main(main, **flag_values):
  """Calls an absl entry point's `main` with `flag_values` set, then restores
  the flags."""
  parsed_flags()
  with flagsaver.flagsaver(**flag_values):
    main(["prog"])


def epoch_scalars(folder, tag):
  """[value by epoch] of one tensor-summary tag in a TensorBoard folder; a
  step logged again (by a resumed process) counts once, as last written."""
  accumulator = event_accumulator.EventAccumulator(
      folder, size_guidance={event_accumulator.TENSORS: 0})
  accumulator.Reload()
  by_step = {event.step: float(tf.make_ndarray(event.tensor_proto))
             for event in accumulator.Tensors(tag)}
  return [by_step[step] for step in sorted(by_step)]
