"""Data source registry: `--dataset` name -> loader(data_cfg, seed) -> DataSpec."""

from research.data import synthetic

REGISTRY = {
    "synthetic": synthetic.load,
}


def load(data_cfg, seed):
  """Loads the source that `data_cfg.dataset` names."""
  if data_cfg.dataset not in REGISTRY:
    raise ValueError(f"unknown dataset {data_cfg.dataset!r}; expected one of "
                     f"{sorted(REGISTRY)}")
  return REGISTRY[data_cfg.dataset](data_cfg, seed)
