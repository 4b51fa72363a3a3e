"""Data source registry: `--dataset` name -> loader(data_cfg, seed) -> DataSpec."""

from research.data import cifar100
from research.data import csv_text
from research.data import fashion_mnist
from research.data import label_file
from research.data import synthetic
from research.data import tfrecord

REGISTRY = {
    "synthetic": synthetic.load,
    "label_file": label_file.load,
    "csv_text": csv_text.load,
    "tfrecord": tfrecord.load,
    "fashion_mnist": fashion_mnist.load,
    "cifar100": cifar100.load,
}


def load(data_cfg, seed):
  """Loads the source that `data_cfg.dataset` names."""
  if data_cfg.dataset not in REGISTRY:
    raise ValueError(f"unknown dataset {data_cfg.dataset!r}; expected one of "
                     f"{sorted(REGISTRY)}")
  return REGISTRY[data_cfg.dataset](data_cfg, seed)
