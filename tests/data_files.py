"""Writers of tiny datasets in each source's real on-disk format, for tests.

Labels follow one rule everywhere: fine class f belongs to coarse class f // 2,
and every image is a flat colour that encodes its fine class, so a few steps
of training can learn something.
"""

import csv
import gzip
import json
import os
import pickle
import struct

import numpy as np
from PIL import Image

COARSE_NAMES = ("animal", "plant")
FINE_NAMES = ("cat", "dog", "oak", "rose")


def image_pixels(fine, size=(12, 10), seed=0):
  """uint8 [h, w, 3]: the fine class's colour plus a little noise."""
  rng = np.random.default_rng(seed)
  colour = np.array([[220, 30, 30], [30, 220, 30], [30, 30, 220],
                     [220, 220, 30]][fine % 4])
  noise = rng.integers(-10, 10, size=(*size, 3))
  return np.clip(colour + noise, 0, 255).astype(np.uint8)


def write_image(path, pixels):
  """Real JPEG or PNG bytes, by the file's extension."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(pixels).save(path)


def write_label_files(root, sizes=None, names=False, sep=" "):
  """Writes images + train.txt/test.txt (+ val.txt if sized) under `root`.

  Args:
    root: folder.
    sizes: split file stem -> number of lines.
    names: class names instead of integer labels.
    sep: field separator of the lines.

  Returns:
    stem -> list of (relative image path, coarse, fine).
  """
  sizes = sizes or {"train": 16, "test": 8}
  rows = {}
  for stem, size in sizes.items():
    rows[stem] = []
    for i in range(size):
      fine = i % 4
      relative = f"images/{stem}_{i}.{'jpg' if i % 2 else 'png'}"
      write_image(os.path.join(root, relative), image_pixels(fine, seed=i))
      rows[stem].append((relative, fine // 2, fine))
    with open(os.path.join(root, f"{stem}.txt"), "w", encoding="utf-8") as f:
      for relative, coarse, fine in rows[stem]:
        labels = ((COARSE_NAMES[coarse], FINE_NAMES[fine]) if names
                  else (str(coarse), str(fine)))
        f.write(sep.join((relative, *labels)) + "\n")
  return rows


TEXTS = ("the cat sat, purring", 'a "loyal" dog barked',
         "an oak tree\nwith deep roots", "a red rose, in bloom")


def write_csv(path, rows, header=("text", "coarse", "fine")):
  """CSV with standard quoting (commas, quotes and newlines inside texts)."""
  with open(path, "w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)


def text_rows(size):
  """Rows (text, coarse name, fine name) cycling through the four classes."""
  return [(f"{TEXTS[i % 4]} {i}", COARSE_NAMES[(i % 4) // 2],
           FINE_NAMES[i % 4]) for i in range(size)]


def idx_bytes(array):
  """An IDX file's bytes: zero, zero, 0x08 (ubyte), ndim, sizes, data."""
  header = struct.pack(">HBB", 0, 0x08, array.ndim)
  header += struct.pack(f">{array.ndim}I", *array.shape)
  return header + array.astype(np.uint8).tobytes()


def write_gzip(path, data):
  with gzip.open(path, "wb") as f:
    f.write(data)


def write_fashion_mnist(folder, sizes=(("train", 40), ("t10k", 10))):
  """The four Fashion-MNIST .gz files with images that encode their label."""
  os.makedirs(folder, exist_ok=True)
  for stem, size in sizes:
    labels = np.arange(size) % 10
    pixels = np.zeros((size, 28, 28), np.uint8)
    for i, label in enumerate(labels):
      pixels[i, label * 2:label * 2 + 6, :] = 255  # a band whose row says the class
    write_gzip(os.path.join(folder, f"{stem}-images-idx3-ubyte.gz"),
               idx_bytes(pixels))
    write_gzip(os.path.join(folder, f"{stem}-labels-idx1-ubyte.gz"),
               idx_bytes(labels.astype(np.uint8)))


def cifar_batch(size, seed=0):
  """A CIFAR-100 batch dict (bytes keys, channel-planar rows) of `size`."""
  fine = [(i * 7) % 100 for i in range(size)]
  data = np.zeros((size, 3072), np.uint8)
  for i, label in enumerate(fine):
    data[i] = image_pixels(label, size=(32, 32), seed=seed + i).transpose(
        2, 0, 1).reshape(-1)
  return {b"batch_label": b"training batch 1 of 1",
          b"filenames": [f"img_{i}.png".encode() for i in range(size)],
          b"fine_labels": fine, b"coarse_labels": [f // 5 for f in fine],
          b"data": data}


def write_pickle(path, obj):
  """Protocol 2, as the original (Python 2) CIFAR files."""
  with open(path, "wb") as f:
    pickle.dump(obj, f, protocol=2)


def write_cifar100(folder, train_size=30, test_size=10):
  os.makedirs(folder, exist_ok=True)
  write_pickle(os.path.join(folder, "train"), cifar_batch(train_size))
  write_pickle(os.path.join(folder, "test"), cifar_batch(test_size, seed=99))
  write_pickle(os.path.join(folder, "meta"), {
      b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
      b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})


def write_json(path, payload):
  with open(path, "w", encoding="utf-8") as f:
    json.dump(payload, f)


def registrar(cases):
  """A decorator that adds a function to the dict `cases` under its name."""
  def register(function):
    cases[function.__name__] = function
    return function
  return register
