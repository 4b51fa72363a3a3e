"""Every absl flag of twohead, defined once, grouped by ablation area.

Only entry points read FLAGS: they call `config.from_flags(FLAGS)` and pass the
frozen config down. Enum choices come from the registries, so adding a loss or
a backbone adds its flag value. `python -m research.flags` prints the markdown
that `flags.md` holds; a test fails when the two drift apart.
"""

import os
import sys

from absl import flags

from research import backbones, heads, losses, optim, runtime, strategies
from research.data import registry as data_registry

FLAGS = flags.FLAGS

# Group name -> flag names, in the order flags.md lists them.
GROUPS = {}


def _in_group(group, definer, name, *args, **kwargs):
  GROUPS.setdefault(group, []).append(name)
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

# ---- model
_in_group("model", flags.DEFINE_enum, "backbone", "mlp",
          sorted(backbones.REGISTRY), "Feature extractor shared by both heads.")
_in_group("model", flags.DEFINE_enum, "head", "independent",
          sorted(heads.REGISTRY), "How the two heads are built on the features.")
_in_group("model", flags.DEFINE_integer, "width", 128,
          "Base width of the backbone (units or filters).")
_in_group("model", flags.DEFINE_float, "dropout", 0.1,
          "Dropout rate before the heads.")
_in_group("model", flags.DEFINE_float, "l2", 0.0,
          "L2 weight decay on conv/dense kernels, added through model.losses.")

# ---- loss
_in_group("loss", flags.DEFINE_enum, "loss", "ce", sorted(losses.REGISTRY),
          "Loss for both heads (see README for when to use each).")
_in_group("loss", flags.DEFINE_list, "loss_weights", ["1", "1"],
          "Two non-negative numbers: weights of the coarse and fine losses.")

# ---- optim
_in_group("optim", flags.DEFINE_enum, "optimizer", "adam",
          sorted(optim.OPTIMIZERS), "Optimizer.")
_in_group("optim", flags.DEFINE_float, "learning_rate", 1e-3,
          "Peak learning rate.")
_in_group("optim", flags.DEFINE_enum, "lr_schedule", "cosine",
          sorted(optim.SCHEDULES), "Learning-rate schedule over all steps.")
_in_group("optim", flags.DEFINE_float, "weight_decay", 1e-4,
          "Decoupled weight decay (adamw only).")

# ---- train
_in_group("train", flags.DEFINE_integer, "epochs", 10, "Training epochs.")
_in_group("train", flags.DEFINE_integer, "batch_size", 64,
          "Global batch size (split across replicas).")
_in_group("train", flags.DEFINE_integer, "seed", 0,
          "Seed for data generation, shuffling and initialisation.")

# ---- runtime
_in_group("runtime", flags.DEFINE_enum, "strategy", "default",
          sorted(strategies.NAMES), "tf.distribute strategy.")
_in_group("runtime", flags.DEFINE_string, "model_dir", None,
          "Output folder (default: a fresh runs/<timestamp> folder).")
_in_group("runtime", flags.DEFINE_integer, "verbose", 2,
          "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.")
_in_group("runtime", flags.DEFINE_bool, "jit_compile", False,
          "Compile the train/test steps with XLA (one device only on CPU: "
          "not with --strategy=mirrored there).")
_in_group("runtime", flags.DEFINE_enum, "mixed_precision", "none",
          list(runtime.PRECISIONS),
          "Keras dtype policy of the layers: mixed_bfloat16 for CPU/TPU, "
          "mixed_float16 for GPU (with dynamic loss scaling); losses and "
          "metrics stay float32.")
_in_group("runtime", flags.DEFINE_integer, "steps_per_execution", 1,
          "Training steps per call into the compiled function (fewer Python "
          "round trips; callbacks then see every N-th step).")


def _two_non_negative_numbers(values):
  try:
    numbers = [float(v) for v in values]
  except ValueError:
    return False
  return len(numbers) == 2 and all(n >= 0 for n in numbers)


def _not_a_file(path):
  return path is None or not os.path.isfile(path)


flags.register_validator(
    "batch_size", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "epochs", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "learning_rate", lambda v: v > 0, "expected a positive number")
flags.register_validator(
    "synthetic_train_size", lambda v: v > 0, "expected a positive integer")
flags.register_validator(
    "synthetic_label_noise", lambda v: 0 <= v <= 1, "expected a rate in [0, 1]")
flags.register_validator(
    "synthetic_imbalance", lambda v: v >= 1, "expected a ratio >= 1")
flags.register_validator(
    "steps_per_execution", lambda v: v >= 1, "expected an integer >= 1")
flags.register_validator(
    "dropout", lambda v: 0 <= v < 1, "expected a rate in [0, 1)")
flags.register_validator(
    "loss_weights", _two_non_negative_numbers,
    "expected two non-negative numbers, e.g. --loss_weights=1,0.5")
flags.register_validator(
    "model_dir", _not_a_file, "expected a folder, but a file is there")


def _flag_row(flag):
  kind = flag.flag_type()
  enum_values = getattr(flag.parser, "enum_values", None)
  if enum_values:
    kind = " \\| ".join(f"`{v}`" for v in enum_values)
  default = "" if flag.default is None else flag.default
  if isinstance(default, list):
    default = ",".join(str(v) for v in default)
  return f"| `--{flag.name}` | {kind} | `{default}` | {flag.help} |"


def markdown():
  """Returns the flag reference that flags.md holds, generated from the code."""
  lines = ["# Flags", "",
           "Generated by `python -m research.flags > flags.md`; "
           "a test fails when this file drifts from the code.", ""]
  registered = FLAGS._flags()  # pylint: disable=protected-access
  for group, names in GROUPS.items():
    lines += [f"## {group}", "", "| flag | type / choices | default | meaning |",
              "|---|---|---|---|"]
    lines += [_flag_row(registered[name]) for name in names]
    lines.append("")
  return "\n".join(lines)


if __name__ == "__main__":
  sys.stdout.write(markdown())
