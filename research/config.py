"""Frozen run configuration built from flags, passed down as plain values.

Each section's fields are named exactly like the flags of the same group in
`research/flags.py`, so a flag added there must be added here too (a test
checks the two match). Library code receives these objects, never FLAGS.
"""

import dataclasses
import json
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class DataConfig:
  dataset: str = "synthetic"
  synthetic_train_size: int = 8000
  synthetic_feature_dim: int = 32
  synthetic_imbalance: float = 1.0
  synthetic_label_noise: float = 0.0
  synthetic_separation: float = 1.0
  synthetic_coupling: float = 0.7


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  backbone: str = "mlp"
  head: str = "independent"
  width: int = 128
  dropout: float = 0.1
  l2: float = 0.0


@dataclasses.dataclass(frozen=True)
class LossConfig:
  loss: str = "ce"
  loss_weights: Tuple[float, float] = (1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  lr_schedule: str = "cosine"
  weight_decay: float = 1e-4


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  epochs: int = 10
  batch_size: int = 64
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
  strategy: str = "default"
  model_dir: Optional[str] = None
  verbose: int = 2
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
    sections = {f.name: f.type for f in dataclasses.fields(cls)}
    return cls(**{name: _section_from_dict(sections[name], raw.get(name, {}))
                  for name in sections})


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


def _flag_value(name, value):
  if name == "loss_weights":
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
