"""Throughput of the label-file image input path: decode + resize + augment.

  python experiments/bench_input.py [--num_images=512 --source_size=96]

Writes `num_images` random JPEGs of source_size x source_size with a label
file into a temporary folder, loads them through `--dataset=label_file` with
caching off (every epoch decodes again) and crop/flip/brightness augmentation
on, and prints images/s of the training pipeline on 2 CPU threads: the median
over `rounds` full passes after one warm-up pass.
"""

import os
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
from PIL import Image
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from research import config  # pylint: disable=g-import-not-at-top,wrong-import-position
from research.data import label_file  # pylint: disable=g-import-not-at-top,wrong-import-position
from research.data import pipeline  # pylint: disable=g-import-not-at-top,wrong-import-position

_NUM_IMAGES = flags.DEFINE_integer("num_images", 512, "JPEGs to write.")
_SOURCE_SIZE = flags.DEFINE_integer("source_size", 96, "Side of the JPEGs.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 32, "Side after resize.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Batch size.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Timed passes over the images.")
_THREADS = 2


def write_images(folder, count, size):
  """`count` random JPEGs plus train.txt/test.txt label files."""
  rng = np.random.default_rng(0)
  lines = []
  for i in range(count):
    name = f"img_{i}.jpg"
    Image.fromarray(rng.integers(0, 256, (size, size, 3), np.uint8)).save(
        os.path.join(folder, name), quality=90)
    lines.append(f"{name} {i % 4 // 2} {i % 4}\n")
  for stem in ("train", "test"):
    with open(os.path.join(folder, f"{stem}.txt"), "w", encoding="utf-8") as f:
      f.writelines(lines)


def images_per_second(dataset, count):
  start = time.perf_counter()
  for _ in dataset:
    pass
  return count / (time.perf_counter() - start)


def main(argv):
  del argv
  tf.config.threading.set_inter_op_parallelism_threads(_THREADS)
  tf.config.threading.set_intra_op_parallelism_threads(_THREADS)
  with tempfile.TemporaryDirectory() as folder:
    write_images(folder, _NUM_IMAGES.value, _SOURCE_SIZE.value)
    data_cfg = config.DataConfig(
        dataset="label_file", data_dir=folder, image_size=_IMAGE_SIZE.value,
        validation_share=0.0, cache_images=False, augment_crop_padding=4,
        augment_flip=True, augment_brightness=0.1)
    split = label_file.load(data_cfg, seed=0).splits["train"]
    dataset = pipeline.batched(split, _BATCH_SIZE.value, training=True)
    options = tf.data.Options()
    options.threading.private_threadpool_size = _THREADS
    dataset = dataset.with_options(options)
    images_per_second(dataset, len(split))  # warm-up: tracing, file cache
    rates = [images_per_second(dataset, len(split))
             for _ in range(_ROUNDS.value)]
  print(f"label_file input path (JPEG {_SOURCE_SIZE.value}px -> "
        f"{_IMAGE_SIZE.value}px, crop+flip+brightness, {_THREADS} threads): "
        f"{statistics.median(rates):.0f} images/s "
        f"(median of {len(rates)}, range {min(rates):.0f}-{max(rates):.0f})")


if __name__ == "__main__":
  app.run(main)
