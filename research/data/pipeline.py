"""The one tf.data pipeline every source feeds: shuffle, batch, prefetch."""

import functools

import tensorflow as tf


def num_batches(size, batch_size):
  """Batches in one pass over `size` examples (the last one may be short)."""
  return -(-size // batch_size)


def batched(split, batch_size, training, seed=0, epoch=0):
  """Returns a batched dataset of (inputs, {"coarse", "fine"}) for a Split.

  Training shuffles the whole split in an order set by (`seed`, `epoch`) alone,
  so a run resumed at epoch k sees the same order as one that never stopped.
  The cardinality is asserted so Keras counts steps exactly (unknown lengths
  add a step).
  """
  examples = split.examples
  if training:
    examples = examples.shuffle(len(split), seed=_epoch_seed(seed, epoch),
                                reshuffle_each_iteration=False)
  examples = augmented(examples, split, training, _epoch_seed(seed, epoch))
  examples = examples.batch(batch_size)
  steps = num_batches(len(split), batch_size)
  examples = examples.apply(tf.data.experimental.assert_cardinality(steps))
  return examples.prefetch(tf.data.AUTOTUNE)


def _epoch_seed(seed, epoch):
  # A shuffle op seed unique to (seed, epoch).
  return seed * 1_000_003 + epoch


def training_epochs(split, batch_size, seed, first_epoch, epochs):
  """Training batches of epochs `first_epoch` .. `epochs - 1`, in one dataset.

  Epoch e is `batched(split, batch_size, True, seed, epoch=e)`. Fit it with
  `steps_per_epoch=num_batches(len(split), batch_size)` so Keras keeps one
  iterator across epochs.
  """
  stream = functools.reduce(
      lambda joined, epoch: joined.concatenate(epoch),
      [batched(split, batch_size, True, seed, epoch)
       for epoch in range(first_epoch, epochs)])
  return stream.prefetch(tf.data.AUTOTUNE)


def augmented(examples, split, training, seed):
  """Applies the split's on-the-fly augmentation to training examples.

  Each example gets its own stateless seed pair from a stream seeded by
  `seed`; callers key it by (run seed, epoch), so a resumed run augments
  exactly as an uninterrupted one.
  """
  if not training or split.augment is None:
    return examples
  seeds = tf.data.Dataset.random(seed=seed)
  pairs = seeds.batch(2)  # [2] int64 per example
  return tf.data.Dataset.zip(examples, pairs).map(
      lambda example, pair: (split.augment(example[0], pair), example[1]),
      num_parallel_calls=tf.data.AUTOTUNE)
