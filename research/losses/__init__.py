"""Loss registry: one name per loss, each usable on either head.

`build(loss_cfg, head, class_counts)` returns a `base.HeadLoss` layer; the
model owns it, so any state it keeps (GHM's histogram) is saved
with the model. See README "Losses" for when to use each.
"""

from research import config
from research.labels import HEADS
from research.losses import class_balance
from research.losses import cross_entropy
from research.losses import focal
from research.losses import ghm
from research.losses import logit_adjusted
from research.losses import multilabel

REGISTRY = {
    "ce": cross_entropy.CrossEntropy,
    "label_smoothing": cross_entropy.LabelSmoothing,
    "focal": focal.Focal,
    "ghm": ghm.GradientHarmonized,
    "logit_adjusted": logit_adjusted.LogitAdjusted,
    "multilabel_ce": multilabel.MultilabelCE,
}


def _focal_alpha(loss_cfg, head, num_classes):
  alpha = getattr(loss_cfg, f"{head}_focal_alpha")
  if not alpha:
    return None
  if len(alpha) != num_classes:
    raise config.ConfigError(
        f"--{head}_focal_alpha: expected {num_classes} values (one per "
        f"{head} class), got {len(alpha)}")
  return tuple(alpha)


# Loss name -> the constructor options it takes from the config (none if
# absent).
_OPTIONS = {
    "label_smoothing": lambda cfg, head, counts: {
        "epsilon": cfg.smoothing_epsilon},
    "focal": lambda cfg, head, counts: {
        "gamma": cfg.focal_gamma,
        "alpha": _focal_alpha(cfg, head, len(counts))},
    "ghm": lambda cfg, head, counts: {
        "form": cfg.ghm_form, "bins": cfg.ghm_bins,
        "momentum": cfg.ghm_momentum, "head": head},
    "logit_adjusted": lambda cfg, head, counts: {
        "tau": cfg.logit_adjust_tau, "class_counts": counts},
}


def loss_name(loss_cfg, head):
  """The loss of `head`: its override (`--coarse_loss`) or `--loss`."""
  return getattr(loss_cfg, f"{head}_loss", None) or loss_cfg.loss


def check_class_weight(head_losses, class_weight):
  """Raises config.ConfigError when `class_weight` is set for a joint loss.

  A joint loss scores the joined coarse+fine vector at once, so it has no
  per-head class axis that class weights could scale.

  Args:
    head_losses: {"coarse": loss name, "fine": loss name}, overrides applied.
    class_weight: the --class_weight name.
  """
  joint = sorted({name for name in head_losses.values()
                  if getattr(REGISTRY.get(name), "joint", False)})
  if joint and class_weight != "none":
    raise config.ConfigError(
        f"--class_weight={class_weight} does not apply to --loss={joint[0]}: "
        "it is one loss over the joined coarse+fine vector, with no per-class "
        "axis to weight; use --class_weight=none")


def build(loss_cfg, head, class_counts):
  """Builds the loss of one head from the loss config.

  Args:
    loss_cfg: config.LossConfig.
    head: "coarse" or "fine"; picks the per-head override and names the layer.
    class_counts: [num_classes] label counts of the training split for this
      head (`data.hierarchy.class_counts`); their length is the head's width.

  Returns:
    A float32 `base.HeadLoss`.
  """
  name = loss_name(loss_cfg, head)
  if name not in REGISTRY:
    raise ValueError(f"unknown loss {name!r} for the {head} head; "
                     f"expected one of {sorted(REGISTRY)}")
  check_class_weight({h: loss_name(loss_cfg, h) for h in HEADS},
                     loss_cfg.class_weight)
  weights = class_balance.class_weights(
      loss_cfg.class_weight, class_counts, loss_cfg.class_weight_beta)
  return REGISTRY[name](
      num_classes=len(class_counts), class_weights=weights, dtype="float32",
      name=f"{head}_{name}_loss",
      **_OPTIONS.get(name, lambda cfg, head, counts: {})(
          loss_cfg, head, class_counts))
