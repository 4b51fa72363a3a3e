"""Turning the two heads' logits into a (coarse, fine) prediction.

`argmax` decodes each head alone. `consistent` scores every pair by
log p(coarse) + log p(fine) (each head's log-softmax) and takes the best pair
the hierarchy allows, so a prediction never puts a fine class under a coarse
class it does not belong to. Both are vectorised: one [batch, coarse, fine]
score tensor, no Python loop over classes.
"""

import tensorflow as tf


def argmax(logits, mask=None):
  """Each head's own best class.

  Args:
    logits: {"coarse": [batch, num_coarse], "fine": [batch, num_fine]}.
    mask: unused; accepted so every decoder has the same signature.

  Returns:
    {"coarse": [batch] int32, "fine": [batch] int32}.
  """
  del mask
  return {head: tf.argmax(head_logits, axis=-1, output_type=tf.int32)
          for head, head_logits in logits.items()}


def consistent(logits, mask):
  """The allowed pair with the highest log p(coarse) + log p(fine).

  Args:
    logits: {"coarse": [batch, num_coarse], "fine": [batch, num_fine]}.
    mask: [num_coarse, num_fine] 0/1 allowed pairs; needs at least one 1.

  Returns:
    {"coarse": [batch] int32, "fine": [batch] int32}.
  """
  log_coarse = tf.nn.log_softmax(tf.cast(logits["coarse"], tf.float32))
  log_fine = tf.nn.log_softmax(tf.cast(logits["fine"], tf.float32))
  scores = log_coarse[:, :, None] + log_fine[:, None, :]  # [batch, C, F]
  allowed = tf.cast(mask, tf.bool)[None]  # [1, C, F]
  scores = tf.where(allowed, scores, float("-inf"))
  num_fine = tf.shape(log_fine)[-1]
  flat = tf.reshape(scores, [tf.shape(scores)[0], -1])  # [batch, C * F]
  best = tf.argmax(flat, axis=-1, output_type=tf.int32)  # [batch]
  return {"coarse": best // num_fine, "fine": best % num_fine}


REGISTRY = {
    "argmax": argmax,
    "consistent": consistent,
}


def decode(name, logits, mask):
  """Decodes with the decoder `name`; raises ValueError naming the choices."""
  if name not in REGISTRY:
    raise ValueError(
        f"unknown decoder {name!r}; expected one of {sorted(REGISTRY)}")
  return REGISTRY[name](logits, mask)
