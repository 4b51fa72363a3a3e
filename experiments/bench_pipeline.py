"""Input pipeline alone vs what the model consumes, on label-file images.

Writes a small folder of random 32x32 PNGs with train/val/test label files,
loads it through the `label_file` source with augmentation (crop + flip) and
no image cache (every epoch decodes again: the pipeline's worst case), then
times in alternating rounds (a) iterating the training batches alone and
(b) the cnn model training on one of those batches held in memory.
"""

import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

from experiments import bench_cases
from research import config
from research.data import pipeline
from research.data import registry as data_registry

IMAGE_SIZE = 32
_LABEL = "input pipeline images/s / model images/s"


def write_label_files(folder, count=512, size=IMAGE_SIZE, extension="png",
                      seed=0):
  """Random size x size images `img_<i>.<extension>` (png or jpg) plus
  train.txt, val.txt, test.txt with 4 coarse / 27 fine labels."""
  encode = {"png": tf.io.encode_png,
            "jpg": lambda pixels: tf.io.encode_jpeg(pixels, quality=90)}
  rng = np.random.default_rng(seed)
  lines = []
  for index in range(count):
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    name = f"img_{index}.{extension}"
    tf.io.write_file(os.path.join(folder, name), encode[extension](pixels))
    fine = index % 27
    lines.append(f"{name} {fine * 4 // 27} {fine}\n")
  for split, share in (("train", slice(0, count // 2)),
                       ("val", slice(count // 2, 3 * count // 4)),
                       ("test", slice(3 * count // 4, count))):
    with open(os.path.join(folder, f"{split}.txt"), "w",
              encoding="utf-8") as handle:
      handle.writelines(lines[share])


def images_per_second(batches, count):
  """Images/s of iterating `count` batches."""
  start = time.perf_counter()
  images = sum(int(tf.shape(inputs)[0]) for inputs, _ in batches.take(count))
  return images / (time.perf_counter() - start)


def row(rounds=5, seconds=1.0):
  """The table row (label, backbone, A, B, ratio, note)."""
  with tempfile.TemporaryDirectory() as folder:
    write_label_files(folder)
    data_cfg = config.DataConfig(
        dataset="label_file", data_dir=folder, image_size=IMAGE_SIZE,
        augment_crop_padding=4, augment_flip=True, cache_images=False)
    spec = data_registry.load(data_cfg, seed=0)
    batches = pipeline.batched(spec.splits["train"], bench_cases.BATCH_SIZE,
                               training=True).repeat()
    model = bench_cases.Timed(bench_cases.Case("cnn"), spec,
                              batches.take(1).cache().repeat())
    steps = model.warm_up(seconds)
    pipeline_batches = max(4, steps)
    images_per_second(batches, 4)  # warm the tf.data threads
    rates = {"pipeline": [], "model": []}
    for _ in range(rounds):
      rates["pipeline"].append(images_per_second(batches, pipeline_batches))
      rates["model"].append(model.run(steps) * bench_cases.BATCH_SIZE)
  per_round = [a / b for a, b in zip(rates["pipeline"], rates["model"])]
  return (_LABEL, "cnn w32, 32x32x3",
          f"{statistics.median(rates['pipeline']):.0f} images/s",
          f"{statistics.median(rates['model']):.0f} images/s",
          f"{statistics.median(per_round):.2f} "
          f"[{min(per_round):.2f}, {max(per_round):.2f}]",
          "> 1 (input is not the bottleneck); uncached decode + crop + flip")
