"""What every data source returns: splits plus the label metadata of the task."""

import dataclasses
from typing import Callable, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Split:
  """One split. `examples` is unbatched: (input, {"coarse": c, "fine": f}).

  The label arrays are kept beside the dataset so priors, class weights and the
  hierarchy can be counted without a pass over the inputs.
  """
  examples: tf.data.Dataset
  coarse: np.ndarray  # [n] int, -1 where missing
  fine: np.ndarray  # [n] int, -1 where missing
  # augment(input, seed [2]) -> input, applied on the fly to training batches.
  augment: Optional[Callable] = None

  def __len__(self):
    return len(self.fine)


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """A loaded two-label task.

  Attributes:
    name: data source name.
    input_shape: shape of one input, without the batch axis.
    input_kind: "features", "image" or "text" (scalar strings); backbones
      check it.
    coarse_names, fine_names: class names, index = label.
    splits: "train", "validation", "test" -> Split.
    fine_to_coarse: [num_fine] parent of each fine class, if the source knows it.
    vocabulary: text only: tokens adapted on the training split, which the text
      backbones' TextVectorization layer is built with (so it is saved).
    sequence_length: text only: tokens per example after padding/truncation.
  """
  name: str
  input_shape: Tuple[int, ...]
  input_kind: str
  coarse_names: Tuple[str, ...]
  fine_names: Tuple[str, ...]
  splits: Mapping[str, Split]
  fine_to_coarse: Optional[np.ndarray] = None
  vocabulary: Optional[Tuple[str, ...]] = None
  sequence_length: int = 0

  @property
  def num_coarse(self):
    return len(self.coarse_names)

  @property
  def num_fine(self):
    return len(self.fine_names)

  def example_batch(self):
    """A batch of one placeholder input, to build a model on."""
    if self.input_kind == "text":
      return tf.constant([""])
    return tf.zeros((1, *self.input_shape), tf.float32)


def split_from_arrays(inputs, coarse, fine):
  """A Split over in-memory arrays."""
  coarse = np.asarray(coarse, np.int32)
  fine = np.asarray(fine, np.int32)
  examples = tf.data.Dataset.from_tensor_slices(
      (inputs, {"coarse": coarse, "fine": fine}))
  return Split(examples=examples, coarse=coarse, fine=fine)


def image_split_from_arrays(pixels, coarse, fine, augment=None):
  """A Split over in-memory uint8 images [n, h, w, c], fed as float32 [0, 1]."""
  split = split_from_arrays(pixels, coarse, fine)
  examples = split.examples.map(
      lambda image, labels: (tf.cast(image, tf.float32) / 255.0, labels),
      num_parallel_calls=tf.data.AUTOTUNE)
  return Split(examples=examples, coarse=split.coarse, fine=split.fine,
               augment=augment)


def image_splits_from_arrays(arrays, augment=None):
  """split -> `image_split_from_arrays` of its (pixels, coarse, fine) arrays;
  only "train" gets `augment`."""
  return {split: image_split_from_arrays(
      pixels, coarse, fine, augment if split == "train" else None)
          for split, (pixels, coarse, fine) in arrays.items()}
