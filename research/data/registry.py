"""Data source registry: `--dataset` name -> loader(data_cfg, seed) -> DataSpec."""

from research.data import cifar100
from research.data import csv_text
from research.data import fashion_mnist
from research.data import label_file
from research.data import problems
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
  """Loads the source that `data_cfg.dataset` names.

  Raises:
    problems.DataError: a split has no examples, which the sources' own
      checks let through (a TFRecord split of count 0, a validation share
      carved from a single training example).
  """
  if data_cfg.dataset not in REGISTRY:
    raise ValueError(f"unknown dataset {data_cfg.dataset!r}; expected one of "
                     f"{sorted(REGISTRY)}")
  spec = REGISTRY[data_cfg.dataset](data_cfg, seed)
  problems.raise_if_any([
      problems.Problem(f"--dataset={data_cfg.dataset}", None,
                       f"no examples in the {name} split; training, "
                       "validation and test need one each at least")
      for name, split in spec.splits.items() if not len(split)])
  return spec
