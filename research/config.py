"""Frozen run configuration built from flags, passed down as plain values.

Each section's fields are named exactly like the flags of the same group in
`research/flags.py`, so a flag added there must be added here too (a test
checks the two match). Library code receives these objects, never FLAGS.
"""

import dataclasses
import json
from typing import Optional, Tuple


class ConfigError(ValueError):
  """A configuration that cannot run on its data (e.g. a backbone for images
  given text); entry points print it as one line."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
  dataset: str = "synthetic"
  synthetic_train_size: int = 8000
  synthetic_feature_dim: int = 32
  synthetic_imbalance: float = 1.0
  synthetic_label_noise: float = 0.0
  synthetic_separation: float = 1.0
  synthetic_coupling: float = 0.7
  hierarchy_file: Optional[str] = None
  data_dir: str = ""
  train_file: str = ""
  val_file: str = ""
  test_file: str = ""
  validation_share: float = 0.1
  num_coarse_classes: int = 0
  num_fine_classes: int = 0
  image_size: int = 32
  augment_crop_padding: int = 0
  augment_flip: bool = False
  augment_brightness: float = 0.0
  augment_erase: float = 0.0
  cache_images: bool = True
  text_column: str = "text"
  coarse_column: str = "coarse"
  fine_column: str = "fine"
  vocab_size: int = 20000
  sequence_length: int = 64


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  backbone: str = "mlp"
  head: str = "independent"
  decode: str = "argmax"
  width: int = 128
  dropout: float = 0.1
  l2: float = 0.0
  bn_gamma_l2: float = 0.0
  mirror_at_inference: bool = False


@dataclasses.dataclass(frozen=True)
class LossConfig:
  loss: str = "ce"
  loss_weights: Tuple[float, float] = (1.0, 1.0)
  loss_weight_schedule: str = ""
  coarse_loss: Optional[str] = None
  fine_loss: Optional[str] = None
  class_weight: str = "none"
  class_weight_beta: float = 0.999
  smoothing_epsilon: float = 0.1
  focal_gamma: float = 2.0
  coarse_focal_alpha: Tuple[float, ...] = ()
  fine_focal_alpha: Tuple[float, ...] = ()
  ghm_form: str = "softmax"
  ghm_bins: int = 30
  ghm_momentum: float = 0.75
  logit_adjust_tau: float = 1.0


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  lr_schedule: str = "cosine"
  warmup_epochs: float = 0.0
  weight_decay: float = 1e-4
  sgd_momentum: float = 0.9
  sgd_nesterov: bool = False
  lookahead_sync_period: int = 0
  lookahead_step_size: float = 0.5


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  epochs: int = 10
  batch_size: int = 64
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
  strategy: str = "default"
  tpu: Optional[str] = None
  model_dir: Optional[str] = None
  verbose: int = 2
  deterministic: bool = False
  keep_checkpoints: int = 3
  best_metric: str = "val_fine/accuracy"
  best_mode: str = "max"
  jit_compile: bool = False
  mixed_precision: str = "none"
  steps_per_execution: int = 1


@dataclasses.dataclass(frozen=True)
class Config:
  data: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  loss: LossConfig = LossConfig()
  optim: OptimConfig = OptimConfig()
  train: TrainConfig = TrainConfig()
  runtime: RuntimeConfig = RuntimeConfig()

  def replace(self, **sections):
    """Returns a copy with whole sections or single fields replaced.

    `cfg.replace(train={"epochs": 2})` changes one field of one section.
    """
    updated = {}
    for section, changes in sections.items():
      current = getattr(self, section)
      if isinstance(changes, dict):
        changes = dataclasses.replace(current, **changes)
      updated[section] = changes
    return dataclasses.replace(self, **updated)

  def as_dict(self):
    return dataclasses.asdict(self)

  def to_json(self):
    return json.dumps(self.as_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text):
    raw = json.loads(text)
    return cls(**{name: _section_from_dict(section_cls, raw.get(name, {}))
                  for name, section_cls in SECTION_TYPES.items()})


def _section_from_dict(section_cls, values):
  known = {f.name: f for f in dataclasses.fields(section_cls)}
  kwargs = {}
  for name, value in values.items():
    if name not in known:
      raise ValueError(f"config.json: unknown field {name!r} in section "
                       f"{section_cls.__name__}")
    kwargs[name] = tuple(value) if isinstance(value, list) else value
  return section_cls(**kwargs)


SECTION_TYPES = {f.name: f.type for f in dataclasses.fields(Config)}


_FLOAT_LISTS = ("loss_weights", "coarse_focal_alpha", "fine_focal_alpha")


def _flag_value(name, value):
  if name in _FLOAT_LISTS:
    return tuple(float(v) for v in value)
  return tuple(value) if isinstance(value, list) else value


def from_flags(flag_values, groups):
  """Builds a Config from parsed absl flag values.

  Args:
    flag_values: parsed `absl.flags.FLAGS` (or any object with attributes).
    groups: section name -> flag names, `research.flags.GROUPS`.

  Returns:
    A frozen Config.
  """
  sections = {}
  for section, names in groups.items():
    values = {n: _flag_value(n, getattr(flag_values, n)) for n in names}
    sections[section] = SECTION_TYPES[section](**values)
  return Config(**sections)


def changes_from_flags(flag_values, groups):
  """{section: {field: value}} of the flags set on the command line, typed as
  in `from_flags`: for `Config.replace` over a config that is not the flags'
  defaults (a recipe)."""
  return {section: {name: _flag_value(name, getattr(flag_values, name))
                    for name in names if flag_values[name].present}
          for section, names in groups.items()}
