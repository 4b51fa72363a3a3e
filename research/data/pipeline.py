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
  examples = examples.batch(batch_size)
  steps = -(-len(split) // batch_size)
  examples = examples.apply(tf.data.experimental.assert_cardinality(steps))
  return examples.prefetch(tf.data.AUTOTUNE)
