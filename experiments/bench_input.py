"""Throughput of the label-file image input path: decode + resize + augment.

  python -m experiments.bench_input [--num_images=512 --source_size=96]

Writes `num_images` random JPEGs of source_size x source_size with label
files into a temporary folder (bench_pipeline's writer), loads the training
half through `--dataset=label_file` with caching off (every epoch decodes
again) and crop/flip/brightness augmentation on, and prints images/s of the
training pipeline on 2 CPU threads: the median over `rounds` full passes
after one warm-up pass. experiments.bench times the same path against the
model's consumption.
"""

import math
import statistics
import tempfile

from absl import app
from absl import flags
import tensorflow as tf

from experiments import bench_pipeline
from research import config
from research.data import label_file
from research.data import pipeline

_NUM_IMAGES = flags.DEFINE_integer("num_images", 512, "JPEGs to write.")
_SOURCE_SIZE = flags.DEFINE_integer("source_size", 96, "Side of the JPEGs.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 32, "Side after resize.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Batch size.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Timed passes over the images.")
_THREADS = 2


def main(argv):
  del argv
  tf.config.threading.set_inter_op_parallelism_threads(_THREADS)
  tf.config.threading.set_intra_op_parallelism_threads(_THREADS)
  with tempfile.TemporaryDirectory() as folder:
    bench_pipeline.write_label_files(folder, _NUM_IMAGES.value,
                                     _SOURCE_SIZE.value, extension="jpg")
    data_cfg = config.DataConfig(
        dataset="label_file", data_dir=folder, image_size=_IMAGE_SIZE.value,
        cache_images=False, augment_crop_padding=4, augment_flip=True,
        augment_brightness=0.1)
    split = label_file.load(data_cfg, seed=0).splits["train"]
    options = tf.data.Options()
    options.threading.private_threadpool_size = _THREADS
    batches = pipeline.batched(split, _BATCH_SIZE.value,
                               training=True).with_options(options)
    passes = math.ceil(len(split) / _BATCH_SIZE.value)
    bench_pipeline.images_per_second(batches, passes)  # warm-up
    rates = [bench_pipeline.images_per_second(batches, passes)
             for _ in range(_ROUNDS.value)]
  print(f"label_file input path (JPEG {_SOURCE_SIZE.value}px -> "
        f"{_IMAGE_SIZE.value}px, crop+flip+brightness, {_THREADS} threads): "
        f"{statistics.median(rates):.0f} images/s "
        f"(median of {len(rates)}, range {min(rates):.0f}-{max(rates):.0f})")


if __name__ == "__main__":
  app.run(main)
