"""The one tf.data pipeline every source feeds: shuffle, batch, prefetch."""

import tensorflow as tf


def batched(split, batch_size, training, seed=0):
  """Returns a batched dataset of (inputs, {"coarse", "fine"}) for a Split.

  Training shuffles the whole split with `seed` each epoch. The cardinality is
  asserted so Keras counts steps exactly (unknown lengths add a step).
  """
  examples = split.examples
  if training:
    examples = examples.shuffle(len(split), seed=seed,
                                reshuffle_each_iteration=True)
  examples = augmented(examples, split, training, seed)
  examples = examples.batch(batch_size)
  steps = -(-len(split) // batch_size)
  examples = examples.apply(tf.data.experimental.assert_cardinality(steps))
  return examples.prefetch(tf.data.AUTOTUNE)


def augmented(examples, split, training, seed):
  """Applies the split's on-the-fly augmentation to training examples.

  Each example gets its own stateless seed pair from a seeded random stream
  that is redrawn every epoch.
  """
  if not training or split.augment is None:
    return examples
  seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
  pairs = seeds.batch(2)  # [2] int64 per example
  return tf.data.Dataset.zip(examples, pairs).map(
      lambda example, pair: (split.augment(example[0], pair), example[1]),
      num_parallel_calls=tf.data.AUTOTUNE)
