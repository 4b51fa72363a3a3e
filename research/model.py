"""TwoHeadModel: backbone + two heads, with its own train_step and test_step.

The objective is `w_coarse * L_coarse + w_fine * L_fine + sum(model.losses)`.
Each head loss returns a sum and a count on its replica; counts are all-reduced
so every loss is the exact mean over the *global* batch, and the sum of the
replica losses (which `optimizer.apply` all-reduces as gradients) equals the
single-replica loss. Metrics record the global values, never the replica shares.

A *joint* loss (one with `joint = True`, e.g. `multilabel_ce`) scores both
heads at once: `objective` calls it once with the label and logit dicts, uses
it unweighted (`loss = L_joint + sum(model.losses)`; build rejects loss
weights other than 1,1 and schedules for it), and reports the same value as
`coarse/loss` and `fine/loss`, since it cannot be split by head.
"""

import collections

import keras
import tensorflow as tf

from research import backbones
from research import config
from research import decoding
from research import dropout as dropout_lib
from research import heads
from research import losses
from research import metrics as metrics_lib
from research import step_logs
from research.data import hierarchy
from research.distribute_utils import global_sum
from research.labels import HEADS

# head_losses: global per-head means; weighted_head_losses: their terms in the
# objective (w * loss; a joint loss is counted once, under "coarse").
Objective = collections.namedtuple(
    "Objective", ["replica_loss", "head_losses", "weighted_head_losses",
                  "regularization", "head_counts", "batch_size"])


class TwoHeadModel(keras.Model):
  """Two-label classifier returning {"coarse": logits, "fine": logits}."""

  def __init__(self, backbone, head, head_losses, hierarchy_mask,
               loss_weights=(1.0, 1.0), dropout=0.0, top_k=3, decode="argmax",
               mirror_at_inference=False, **kwargs):
    """Wires the parts; `build` below makes them from a config.

    Args:
      backbone: keras.Model from inputs to [batch, features].
      head: a heads.* layer from features to the two logits.
      head_losses: {"coarse": HeadLoss, "fine": HeadLoss}.
      hierarchy_mask: [num_coarse, num_fine] 0/1 allowed (coarse, fine)
        pairs, kept as a non-trainable variable (saved with the weights).
      loss_weights: (w_coarse, w_fine), kept as a variable so schedules can
        change it between epochs without recompiling.
      dropout: rate applied to the features before the heads.
      top_k: k of the fine head's top-k accuracy.
      decode: a key of decoding.REGISTRY; metrics score decoded predictions.
      mirror_at_inference: outside training, average the logits of the
        [batch, height, width(, channels)] images and of their left-right
        mirrors.
    """
    super().__init__(**kwargs)
    self.backbone = backbone
    self.head = head
    self.feature_dropout = dropout_lib.GlobalBatchDropout(dropout)
    self.coarse_loss = head_losses["coarse"]
    self.fine_loss = head_losses["fine"]
    self.joint_loss = getattr(self.coarse_loss, "joint", False)
    self.decoder = decode
    self.mirror_at_inference = mirror_at_inference
    self.hierarchy_mask = self.add_weight(
        name="hierarchy_mask", shape=hierarchy_mask.shape, trainable=False,
        initializer=keras.initializers.Constant(hierarchy_mask),
        aggregation="only_first_replica")
    self.head_loss_weights = self.add_weight(
        name="head_loss_weights", shape=(2,), trainable=False,
        initializer=keras.initializers.Constant(loss_weights),
        aggregation="only_first_replica")
    num_coarse, num_fine = hierarchy_mask.shape
    self.two_head_metrics = metrics_lib.TwoHeadMetrics(
        {"coarse": num_coarse, "fine": num_fine}, top_k,
        set_accuracy=self.joint_loss)

  @property
  def metrics(self):
    return list(self.two_head_metrics.trackers)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    # Keras would reduce one data batch across replicas here, which fails when
    # replica batches differ in size (an uneven last batch) and under
    # MultiWorkerMirroredStrategy (keras-team/keras#20585). `build()` below
    # already built the model, so only the optimizer is left to build.
    del iterator, data_batch
    if self.optimizer is not None and not self.optimizer.built:
      with self.distribute_strategy.scope():
        self.optimizer.build(self.trainable_variables)

  def make_train_function(self, force=False):
    if self.train_function is None or force:
      self.train_function = self._function_of(self.train_step)
    return self.train_function

  def make_test_function(self, force=False):
    if self.test_function is None or force:
      self.test_function = self._function_of(self.test_step)
    return self.test_function

  def _function_of(self, step):
    """What Keras would compile for `step` (tf.function, XLA,
    steps_per_execution), with the logs carried as one vector (step_logs)."""
    names = self.two_head_metrics.result_names
    compiled = self._make_function(step_logs.packed(step, names))
    return step_logs.unpacked(compiled, names)

  def call(self, inputs, training=False, coarse_teacher=None):
    logits = self.logits(inputs, training, coarse_teacher)
    if self.mirror_at_inference and not training:
      # Averaged logits are the geometric mean of the two softmaxes.
      mirrored = self.logits(tf.reverse(inputs, axis=[2]), training, None)
      logits = {head: (logits[head] + mirrored[head]) / 2 for head in logits}
    return logits

  def logits(self, inputs, training=False, coarse_teacher=None):
    """{"coarse", "fine"} logits of one view of the inputs."""
    features = self.backbone(inputs, training=training)  # [batch, features]
    features = self.feature_dropout(features, training=training)
    return self.head(features, coarse_teacher=coarse_teacher, training=training)

  def train_step(self, data):
    inputs, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
      logits = self(inputs, training=True, coarse_teacher=labels["coarse"])
      objective = self.objective(labels, logits, sample_weight, training=True)
      # Identity unless compile() wrapped the optimizer in a LossScaleOptimizer
      # (mixed_float16); its apply() unscales the gradients again.
      scaled_loss = self.optimizer.scale_loss(objective.replica_loss)
    gradients = tape.gradient(scaled_loss, self.trainable_variables)
    self.optimizer.apply(gradients, self.trainable_variables)
    return self.record(labels, logits, objective)

  def test_step(self, data):
    inputs, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    logits = self(inputs, training=False)
    objective = self.objective(labels, logits, sample_weight, training=False)
    return self.record(labels, logits, objective)

  def objective(self, labels, logits, sample_weight=None, training=False):
    """Joint loss of a batch: this replica's share and the global values."""
    if self.joint_loss:
      share, head_losses, head_counts = self._joint_loss_terms(
          labels, logits, sample_weight, training)
      data_share = share
      weighted = {"coarse": head_losses["coarse"], "fine": tf.constant(0.0)}
    else:
      shares, head_losses, head_counts = self._head_loss_terms(
          labels, logits, sample_weight, training)
      weights = dict(zip(HEADS, tf.unstack(self.head_loss_weights)))
      data_share = tf.add_n([weights[h] * shares[h] for h in HEADS])
      weighted = {h: weights[h] * head_losses[h] for h in HEADS}
    regularization = tf.add_n(self.losses) if self.losses else tf.constant(0.0)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    replica_loss = data_share + regularization / replicas
    batch_size = global_sum(tf.cast(tf.shape(logits["fine"])[0], tf.float32))
    return Objective(replica_loss, head_losses, weighted, regularization,
                     head_counts, batch_size)

  def _head_loss_terms(self, labels, logits, sample_weight, training):
    """Per-head replica shares, global losses and global counts."""
    losses_by_head = {"coarse": self.coarse_loss, "fine": self.fine_loss}
    shares, head_losses, head_counts = {}, {}, {}
    for head in HEADS:
      loss_sum, count = losses_by_head[head](
          labels[head], logits[head], sample_weight, training=training)
      head_counts[head] = global_sum(count)
      shares[head] = loss_sum / tf.maximum(head_counts[head], 1.0)
      head_losses[head] = global_sum(shares[head])
    return shares, head_losses, head_counts

  def _joint_loss_terms(self, labels, logits, sample_weight, training):
    """The joint loss's replica share; reported as both heads' loss."""
    loss_sum, count = self.coarse_loss(labels, logits, sample_weight,
                                       training=training)
    count = global_sum(count)
    share = loss_sum / tf.maximum(count, 1.0)
    loss = global_sum(share)
    return share, {h: loss for h in HEADS}, {h: count for h in HEADS}

  def decode(self, logits):
    """{"coarse", "fine"} [batch] int32 predictions of the model's decoder."""
    return decoding.decode(self.decoder, logits, self.hierarchy_mask)

  def record(self, labels, logits, objective):
    """Updates the trackers and returns their epoch-so-far values."""
    self.two_head_metrics.update(objective, labels, logits,
                                 self.decode(logits), self.hierarchy_mask)
    return self.two_head_metrics.results()


def check_fits(model_cfg, spec):
  """Raises config.ConfigError if `model_cfg` cannot take the inputs of
  `spec` (data.spec.DataSpec)."""
  backbones.check_input_kind(model_cfg.backbone, spec.input_kind)
  if model_cfg.mirror_at_inference and spec.input_kind != "image":
    raise config.ConfigError(
        f"--mirror_at_inference needs image inputs, but the dataset gives "
        f"{spec.input_kind} inputs")


def build(model_cfg, loss_cfg, spec, hierarchy_mask=None):
  """Builds an uncompiled TwoHeadModel for a task; call inside strategy.scope().

  Args:
    model_cfg: config.ModelConfig.
    loss_cfg: config.LossConfig.
    spec: data.spec.DataSpec of the task (shapes and class counts).
    hierarchy_mask: [num_coarse, num_fine] 0/1 allowed pairs; default: the
      pairs counted on the training split.

  Returns:
    A built TwoHeadModel (its variables exist, so checkpoints can restore).
  """
  heads.check_loss(model_cfg.head, loss_cfg.loss,
                   {h: getattr(loss_cfg, f"{h}_loss") for h in HEADS},
                   loss_cfg.loss_weights, loss_cfg.loss_weight_schedule)
  check_fits(model_cfg, spec)
  if hierarchy_mask is None:
    hierarchy_mask = hierarchy.counted(spec).mask
  backbone = backbones.build(
      model_cfg.backbone, spec.input_shape, spec.input_kind, model_cfg.width,
      l2=model_cfg.l2, bn_gamma_l2=model_cfg.bn_gamma_l2,
      vocabulary=spec.vocabulary, sequence_length=spec.sequence_length)
  head = heads.build(model_cfg.head, spec.num_coarse, spec.num_fine,
                     l2=model_cfg.l2)
  train = spec.splits["train"]
  train_counts = {
      "coarse": hierarchy.class_counts(train.coarse, spec.num_coarse),
      "fine": hierarchy.class_counts(train.fine, spec.num_fine)}
  head_losses = {h: losses.build(loss_cfg, h, train_counts[h]) for h in HEADS}
  model = TwoHeadModel(backbone, head, head_losses, hierarchy_mask,
                       loss_cfg.loss_weights, dropout=model_cfg.dropout,
                       decode=model_cfg.decode,
                       mirror_at_inference=model_cfg.mirror_at_inference)
  model(spec.example_batch())
  return model
