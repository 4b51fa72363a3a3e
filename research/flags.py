"""Every absl flag of twohead, defined once, grouped by ablation area.

Only entry points read FLAGS: they call `config.from_flags(FLAGS, GROUPS)` and
pass the frozen config down. Enum choices come from the registries, so adding
a loss or a backbone adds its flag value. `python -m research.flags` prints the markdown
that `flags.md` holds; a test fails when the two drift apart.
"""

import os
import re
import sys

from absl import flags

from research import backbones, checkpointing, decoding, heads, loss_weights
from research import losses, optim, runtime, strategies
from research.data import registry as data_registry
from research.labels import HEADS

FLAGS = flags.FLAGS

# Group name -> flag names, in the order flags.md lists them.
GROUPS = {}
# Flags of the tools (evaluate, predict, export, experiments): not part of a
# run's Config, so they live apart from GROUPS, which config.py mirrors.
TOOL_GROUPS = {}


def _in_group(group, definer, name, *args, **kwargs):
  GROUPS.setdefault(group, []).append(name)
  return definer(name, *args, **kwargs)


def _in_tool_group(group, definer, name, *args, **kwargs):
  TOOL_GROUPS.setdefault(group, []).append(name)
  return definer(name, *args, **kwargs)


# ---- data
_in_group("data", flags.DEFINE_enum, "dataset", "synthetic",
          sorted(data_registry.REGISTRY), "Data source.")
_in_group("data", flags.DEFINE_integer, "synthetic_train_size", 8000,
          "synthetic: number of training samples.")
_in_group("data", flags.DEFINE_integer, "synthetic_feature_dim", 32,
          "synthetic: width of the dense feature vector.")
_in_group("data", flags.DEFINE_float, "synthetic_imbalance", 1.0,
          "synthetic: ratio of the most to the least frequent fine class "
          "(1 = balanced).")
_in_group("data", flags.DEFINE_float, "synthetic_label_noise", 0.0,
          "synthetic: share of training samples whose (coarse, fine) pair is "
          "replaced by a random class's pair; validation/test stay clean.")
_in_group("data", flags.DEFINE_float, "synthetic_separation", 1.0,
          "synthetic: distance between class centres in noise units "
          "(higher = easier).")
_in_group("data", flags.DEFINE_float, "synthetic_coupling", 0.7,
          "synthetic: share of a fine centre inherited from its coarse "
          "centre (1 = fine classes cluster tightly under their coarse class).")
_in_group("data", flags.DEFINE_string, "hierarchy_file", None,
          "File of allowed '<coarse> <fine>' pairs (names or indices, one per "
          "line, '#' comments); default: the pairs counted on the training "
          "split.")
_in_group("data", flags.DEFINE_string, "data_dir", "",
          "Folder of the data files (label_file: image paths are relative "
          "to it; default the label file's folder).")
_in_group("data", flags.DEFINE_string, "train_file", "",
          "label_file/csv_text: training file (default train.txt / train.csv "
          "in --data_dir).")
_in_group("data", flags.DEFINE_string, "val_file", "",
          "label_file/csv_text: validation file (default val.txt / val.csv "
          "if present, else a --validation_share of train).")
_in_group("data", flags.DEFINE_string, "test_file", "",
          "label_file/csv_text: test file (default test.txt / test.csv).")
_in_group("data", flags.DEFINE_float, "validation_share", 0.1,
          "Share of the training split held out (seeded by --seed) as "
          "validation when the source has no validation split.")
_in_group("data", flags.DEFINE_integer, "num_coarse_classes", 0,
          "label_file/csv_text with integer labels: number of coarse classes "
          "(0 = 1 + the largest in the training file).")
_in_group("data", flags.DEFINE_integer, "num_fine_classes", 0,
          "label_file/csv_text with integer labels: number of fine classes "
          "(0 = 1 + the largest in the training file).")
_in_group("data", flags.DEFINE_integer, "image_size", 32,
          "label_file: images are resized to image_size x image_size.")
_in_group("data", flags.DEFINE_integer, "augment_crop_padding", 0,
          "Images: pad by this many pixels and random-crop back (0 = off).")
_in_group("data", flags.DEFINE_boolean, "augment_flip", False,
          "Images: random left-right flips in training.")
_in_group("data", flags.DEFINE_float, "augment_brightness", 0.0,
          "Images: random brightness delta up to this (0 = off; pixels are "
          "in [0, 1]).")
_in_group("data", flags.DEFINE_float, "augment_erase", 0.0,
          "Images: probability of random erasing, one rectangle of 2-40% of "
          "the image (aspect 0.3-3.3) set to uniform noise (0 = off).")
_in_group("data", flags.DEFINE_boolean, "cache_images", True,
          "label_file/tfrecord: keep decoded examples in memory after the "
          "first epoch (turn off when they do not fit).")
_in_group("data", flags.DEFINE_string, "text_column", "text",
          "csv_text: header name of the text column.")
_in_group("data", flags.DEFINE_string, "coarse_column", "coarse",
          "csv_text: header name of the coarse label column.")
_in_group("data", flags.DEFINE_string, "fine_column", "fine",
          "csv_text: header name of the fine label column.")
_in_group("data", flags.DEFINE_integer, "vocab_size", 20000,
          "Text: vocabulary size of the TextVectorization adapted on train.")
_in_group("data", flags.DEFINE_integer, "sequence_length", 64,
          "Text: tokens per example (padded or truncated).")

# ---- model
_in_group("model", flags.DEFINE_enum, "backbone", "mlp",
          sorted(backbones.REGISTRY), "Feature extractor shared by both heads.")
_in_group("model", flags.DEFINE_enum, "head", "independent",
          sorted(heads.REGISTRY), "How the two heads are built on the features "
          "(joint needs --loss=multilabel_ce).")
_in_group("model", flags.DEFINE_enum, "decode", "argmax",
          sorted(decoding.REGISTRY),
          "argmax: each head alone; consistent: the best (coarse, fine) pair "
          "the hierarchy allows. Metrics score the decoded predictions.")
_in_group("model", flags.DEFINE_integer, "width", 128,
          "Base width of the backbone (units or filters): the first stage's "
          "filters for cnn/resnet18/resnext18 (the published ResNet-18 is 64), "
          "32 x alpha for mobilenet_v2, w of small_resnet's w, 3w, 9w.")
_in_group("model", flags.DEFINE_float, "dropout", 0.1,
          "Dropout rate before the heads.")
_in_group("model", flags.DEFINE_float, "l2", 0.0,
          "L2 weight decay on conv/dense kernels, added through model.losses.")
_in_group("model", flags.DEFINE_float, "bn_gamma_l2", 0.0,
          "L2 weight decay on batch-norm gammas (separate from --l2).")
_in_group("model", flags.DEFINE_bool, "mirror_at_inference", False,
          "Images: outside training, the logits are the mean of the image's "
          "and its left-right mirror's (test-time augmentation; evaluation, "
          "prediction and export alike, at twice the inference cost).")

# ---- loss
_in_group("loss", flags.DEFINE_enum, "loss", "ce", sorted(losses.REGISTRY),
          "Loss for both heads (see README for when to use each).")
_in_group("loss", flags.DEFINE_list, "loss_weights", ["1", "1"],
          "Two non-negative numbers: weights of the coarse and fine losses.")
_in_group("loss", flags.DEFINE_string, "loss_weight_schedule", "",
          "Loss weights by epoch, e.g. 0:0.9/0.1,3:0.5/0.5,6:0.1/0.9 "
          "(epoch:coarse/fine, from epoch 0); replaces --loss_weights.")
_in_group("loss", flags.DEFINE_enum, "coarse_loss", None,
          sorted(losses.REGISTRY), "Loss of the coarse head (unset: --loss).")
_in_group("loss", flags.DEFINE_enum, "fine_loss", None,
          sorted(losses.REGISTRY), "Loss of the fine head (unset: --loss).")
_in_group("loss", flags.DEFINE_enum, "class_weight", "none",
          list(losses.class_balance.WEIGHTINGS),
          "Per-class loss weights counted per head from the training labels: "
          "balanced = n / (C * n_c); effective_number = Cui et al. 2019.")
_in_group("loss", flags.DEFINE_float, "class_weight_beta", 0.999,
          "effective_number: beta in [0, 1) (0 = equal weights).")
_in_group("loss", flags.DEFINE_float, "smoothing_epsilon", 0.1,
          "label_smoothing: epsilon in [0, 1) (0 = plain CE).")
_in_group("loss", flags.DEFINE_float, "focal_gamma", 2.0,
          "focal: focusing exponent gamma >= 0 (0 = plain CE).")
_in_group("loss", flags.DEFINE_list, "coarse_focal_alpha", [],
          "focal: optional per-class alpha of the coarse head, one "
          "non-negative number per coarse class (empty = none).")
_in_group("loss", flags.DEFINE_list, "fine_focal_alpha", [],
          "focal: optional per-class alpha of the fine head, one "
          "non-negative number per fine class (empty = none).")
_in_group("loss", flags.DEFINE_enum, "ghm_form", "softmax",
          list(losses.ghm.FORMS),
          "ghm: softmax (one weight per example, CE) or sigmoid (mmdetection "
          "GHMC: one weight per class element, one-vs-rest BCE).")
_in_group("loss", flags.DEFINE_integer, "ghm_bins", 30,
          "ghm: number of gradient-norm bins (softmax form with 1 bin and "
          "momentum 0 = CE).")
_in_group("loss", flags.DEFINE_float, "ghm_momentum", 0.75,
          "ghm: EMA momentum of the bin counts in [0, 1) (0 = this batch's).")
_in_group("loss", flags.DEFINE_float, "logit_adjust_tau", 1.0,
          "logit_adjusted: tau of logits + tau * log(train prior) "
          "(0 = plain CE).")

# ---- optim
_in_group("optim", flags.DEFINE_enum, "optimizer", "adam",
          sorted(optim.OPTIMIZERS), "Optimizer.")
_in_group("optim", flags.DEFINE_float, "learning_rate", 1e-3,
          "Peak learning rate.")
_in_group("optim", flags.DEFINE_enum, "lr_schedule", "cosine",
          sorted(optim.SCHEDULES),
          "Learning-rate schedule over the steps after the warmup.")
_in_group("optim", flags.DEFINE_float, "warmup_epochs", 0.0,
          "Linear warmup to --learning_rate over this many epochs (rounded "
          "down to W whole steps; step k of W at (k+1)/W of the rate; 0 = "
          "none), before --lr_schedule.")
_in_group("optim", flags.DEFINE_float, "weight_decay", 1e-4,
          "Decoupled weight decay (adamw only).")
_in_group("optim", flags.DEFINE_float, "sgd_momentum", 0.9,
          "sgd: momentum in [0, 1) (0 = plain SGD).")
_in_group("optim", flags.DEFINE_bool, "sgd_nesterov", False,
          "sgd: Nesterov momentum.")
_in_group("optim", flags.DEFINE_integer, "lookahead_sync_period", 0,
          "Lookahead: sync the slow weights every k steps (0 = no Lookahead).")
_in_group("optim", flags.DEFINE_float, "lookahead_step_size", 0.5,
          "Lookahead: share of the way the slow weights move at each sync.")

# ---- train
_in_group("train", flags.DEFINE_integer, "epochs", 10, "Training epochs.")
_in_group("train", flags.DEFINE_integer, "batch_size", 64,
          "Global batch size (split across replicas).")
MAX_SEED = 2**32 - 1  # numpy's and keras.utils.set_random_seed's limit
_in_group("train", flags.DEFINE_integer, "seed", 0,
          "Seed (0 to 2**32-1) of initialisation, data order and augmentation, "
          "the carved validation split and the synthetic samples (train, "
          "validation and test alike).")

# ---- runtime
_in_group("runtime", flags.DEFINE_enum, "strategy", "default",
          sorted(strategies.NAMES),
          "tf.distribute strategy (multi_worker reads TF_CONFIG; see BUILD.md).")
_in_group("runtime", flags.DEFINE_string, "tpu", None,
          "tpu strategy: TPU name or grpc:// address (empty: the local TPU VM "
          "or the one the environment names).")
_in_group("runtime", flags.DEFINE_string, "model_dir", None,
          "Output folder (default: a fresh runs/<timestamp> folder). Rerunning "
          "in the same folder resumes from its last checkpoint; "
          "research.evaluate takes several, comma-separated, as an ensemble.")
_in_group("runtime", flags.DEFINE_integer, "verbose", 2,
          "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.")
_in_group("runtime", flags.DEFINE_boolean, "deterministic", False,
          "Enable TF op determinism (with the seeds always set, reruns give "
          "identical numbers; some ops get slower).")
_in_group("runtime", flags.DEFINE_integer, "keep_checkpoints", 3,
          "How many epoch checkpoints of the full training state to keep.")
_in_group("runtime", flags.DEFINE_string, "best_metric", "val_fine/accuracy",
          "Logged metric that picks checkpoints/best.weights.h5.")
_in_group("runtime", flags.DEFINE_enum, "best_mode", "max",
          list(checkpointing.MODES), "Whether --best_metric improves upward "
          "(max) or downward (min).")
_in_group("runtime", flags.DEFINE_bool, "jit_compile", False,
          "Compile the train/test steps with XLA (on CPU a single replica "
          "only: with more than one, training stops before it starts).")
_in_group("runtime", flags.DEFINE_enum, "mixed_precision", "none",
          list(runtime.PRECISIONS),
          "Keras dtype policy of the layers: mixed_bfloat16 for CPU/TPU, "
          "mixed_float16 for GPU (with dynamic loss scaling); losses and "
          "metrics stay float32.")
_in_group("runtime", flags.DEFINE_integer, "steps_per_execution", 1,
          "Training steps per call into the compiled function (fewer Python "
          "round trips; callbacks then see every N-th step). Must divide the "
          "steps of an epoch. One replica only outside TPUs (Keras fails "
          "there: keras-team/keras#19246).")

# ---- tools: research.evaluate / predict / export (they read --model_dir too)
_in_tool_group("tools", flags.DEFINE_enum, "split", "test",
               ["train", "validation", "test"], "evaluate: split to evaluate.")
_in_tool_group("tools", flags.DEFINE_enum, "checkpoint", "best",
               ["best", "last"],
               "evaluate/predict/export: checkpoints/<best|last>.weights.h5 "
               "(best = the epoch that the run's --best_metric and "
               "--best_mode picked, by default the highest validation fine "
               "accuracy; last = the final epoch).")
_in_tool_group("tools", flags.DEFINE_string, "input", None,
               "predict: inputs to label: features: .npy or .csv rows; "
               "images: an image file, a folder of them, a list file of "
               "paths (relative to --data_dir, default its folder) or a .npy "
               "pixel array; text: a CSV with the run's text column; any "
               "kind: a .tfrecord file.")
_in_tool_group("tools", flags.DEFINE_string, "output", None,
               "predict: CSV to write (default predictions.csv); evaluate "
               "with several --model_dir: the ensemble's folder (default "
               "<first model_dir>/ensemble); experiments.ghm_density: PNG "
               "(default ghm_density.png).")
_in_tool_group("tools", flags.DEFINE_string, "export_dir", None,
               "export: SavedModel folder (default <model_dir>/export).")
# research.data.to_tfrecord (it reads the data flags too)
_in_tool_group("tools", flags.DEFINE_string, "tfrecord_dir", None,
               "research.data.to_tfrecord: folder to write the shards and "
               "dataset.json into (required).")
_in_tool_group("tools", flags.DEFINE_integer, "tfrecord_shards", 4,
               "research.data.to_tfrecord: TFRecord files per split.",
               lower_bound=1)

# ---- experiments: python -m experiments.run / experiments.ghm_density /
# experiments.recipes.fashion_mnist
_in_tool_group("experiments", flags.DEFINE_integer, "parallel", 1,
               "experiments.run: training processes at once.")
_in_tool_group("experiments", flags.DEFINE_string, "ce_logits", None,
               "experiments.ghm_density: logits_train.npz of a CE-trained run.")
_in_tool_group("experiments", flags.DEFINE_string, "ghm_logits", None,
               "experiments.ghm_density: logits_train.npz of a GHM-trained run.")
_in_tool_group("experiments", flags.DEFINE_enum, "ghm_head", "fine",
               ["coarse", "fine"], "experiments.ghm_density: head to plot.")
_in_tool_group("experiments", flags.DEFINE_string, "results_dir", None,
               "experiments.recipes.fashion_mnist: folder for results.json "
               "and results.md (default experiments/results/fashion_mnist); "
               "experiments.run: folder for <study>/table.md and table.csv "
               "(default experiments/results). The defaults hold the "
               "committed results: another folder is required when the "
               "flags change the recipe or the study.")
_in_tool_group("experiments", flags.DEFINE_string, "note", "",
               "experiments.recipes.fashion_mnist: recorded with the results "
               "(e.g. what a trial changed).")


def _two_non_negative_numbers(values):
  try:
    numbers = [float(v) for v in values]
  except ValueError:
    return False
  return len(numbers) == 2 and all(n >= 0 for n in numbers)


def _non_negative_numbers(values):
  try:
    return all(float(v) >= 0 for v in values)
  except ValueError:
    return False


def _not_a_file(path):
  return path is None or not os.path.isfile(path)


def _valid_schedule(text):
  try:
    loss_weights.parse(text)
  except ValueError as error:
    raise flags.ValidationError(str(error)) from error
  return True


def _loss_of_each_head(values):
  """{head: loss name}: --coarse_loss / --fine_loss, else --loss."""
  return {head: values[f"{head}_loss"] or values["loss"] for head in HEADS}


def _head_fits_loss(values):
  if not _two_non_negative_numbers(values["loss_weights"]):
    return True  # the --loss_weights validator reports it
  try:
    heads.check_loss(
        values["head"], values["loss"],
        {head: values[f"{head}_loss"] for head in HEADS},
        [float(w) for w in values["loss_weights"]],
        values["loss_weight_schedule"])
  except ValueError as error:
    raise flags.ValidationError(str(error)) from error
  return True


def _class_weight_fits_loss(values):
  try:
    losses.check_class_weight(_loss_of_each_head(values),
                              values["class_weight"])
  except ValueError as error:
    raise flags.ValidationError(str(error)) from error
  return True


flags.register_validator(
    "batch_size", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "epochs", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "seed", lambda v: 0 <= v <= MAX_SEED, "expected an integer in [0, 2**32-1]")
flags.register_validator(
    "learning_rate", lambda v: v > 0, "expected a positive number")
flags.register_validator(
    "synthetic_train_size", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "synthetic_label_noise", lambda v: 0 <= v <= 1, "expected a rate in [0, 1]")
flags.register_validator(
    "synthetic_imbalance", lambda v: v >= 1, "expected a ratio >= 1")
flags.register_validator(
    "lookahead_sync_period", lambda v: v >= 0,
    "expected 0 (off) or a positive number of steps")
flags.register_validator(
    "lookahead_step_size", lambda v: 0 < v <= 1, "expected a share in (0, 1]")
flags.register_validator(
    "sgd_momentum", lambda v: 0 <= v < 1, "expected momentum in [0, 1)")
flags.register_validator(
    "warmup_epochs", lambda v: v >= 0, "expected a non-negative number")
flags.register_validator(
    "steps_per_execution", lambda v: v >= 1, "expected an integer >= 1")
flags.register_validator(
    "dropout", lambda v: 0 <= v < 1, "expected a rate in [0, 1)")
flags.register_validator(
    "loss_weights", _two_non_negative_numbers,
    "expected two non-negative numbers, e.g. --loss_weights=1,0.5")
flags.register_validator(
    "model_dir", _not_a_file, "expected a folder, but a file is there")
flags.register_validator(
    "parallel", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "keep_checkpoints", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "hierarchy_file", lambda v: v is None or os.path.isfile(v),
    "expected an existing mapping file")
flags.register_validator("loss_weight_schedule", _valid_schedule)
flags.register_multi_flags_validator(
    ["head", "loss", "coarse_loss", "fine_loss", "loss_weights",
     "loss_weight_schedule"], _head_fits_loss)
flags.register_multi_flags_validator(
    ["loss", "coarse_loss", "fine_loss", "class_weight"],
    _class_weight_fits_loss)
flags.register_validator(
    "validation_share", lambda v: 0 < v < 1,
    "expected a share in (0, 1): training needs a validation split")
for _name in ("image_size", "vocab_size", "sequence_length", "width",
              "synthetic_feature_dim"):
  flags.register_validator(_name, lambda v: v > 0, "expected a positive integer")
for _name in ("num_coarse_classes", "num_fine_classes", "augment_crop_padding"):
  flags.register_validator(_name, lambda v: v >= 0,
                           "expected a non-negative integer")
for _name in ("l2", "bn_gamma_l2", "augment_brightness", "weight_decay"):
  flags.register_validator(_name, lambda v: v >= 0,
                           "expected a non-negative number")

flags.register_validator(
    "augment_erase", lambda v: 0 <= v <= 1, "expected a probability in [0, 1]")
flags.register_validator(
    "class_weight_beta", lambda v: 0 <= v < 1, "expected beta in [0, 1)")
flags.register_validator(
    "smoothing_epsilon", lambda v: 0 <= v < 1, "expected epsilon in [0, 1)")
flags.register_validator(
    "focal_gamma", lambda v: v >= 0, "expected gamma >= 0")
for _alpha_flag in ("coarse_focal_alpha", "fine_focal_alpha"):
  flags.register_validator(
      _alpha_flag, _non_negative_numbers,
      "expected non-negative numbers, one per class, e.g. 0.25,0.75,1,1")
flags.register_validator(
    "ghm_bins", lambda v: v >= 1, "expected a positive number of bins")
flags.register_validator(
    "ghm_momentum", lambda v: 0 <= v < 1, "expected momentum in [0, 1)")


_TYPE_NAMES = {"bool": "bool", "int": "int", "float": "float",
               "str": "string", "list": "list"}


def _flag_type(flag):
  enum_values = getattr(flag.parser, "enum_values", None)
  if enum_values:
    return " \\| ".join(f"`{v}`" for v in enum_values)
  if isinstance(flag.default, list) or "list" in flag.flag_type():
    return "list"
  return _TYPE_NAMES.get(type(flag.default).__name__, "string")


def _flag_row(flag):
  default = flag.default
  if isinstance(default, list):
    default = ",".join(str(v) for v in default)
  default = "" if default is None else f"`{default}`"
  meaning = re.sub(r"^<[^>]*>: ", "", flag.help)  # absl prefixes enum choices
  return f"| `--{flag.name}` | {_flag_type(flag)} | {default} | {meaning} |"


def markdown():
  """Returns the flag reference that flags.md holds, generated from the code."""
  lines = ["# Flags", "",
           "Generated by `python -m research.flags > flags.md`; "
           "a test fails when this file drifts from the code.", ""]
  registered = FLAGS._flags()  # pylint: disable=protected-access
  for group, names in {**GROUPS, **TOOL_GROUPS}.items():
    lines += [f"## {group}", "", "| flag | type / choices | default | meaning |",
              "|---|---|---|---|"]
    lines += [_flag_row(registered[name]) for name in names]
    lines.append("")
  return "\n".join(lines)


if __name__ == "__main__":
  sys.stdout.write(markdown())
