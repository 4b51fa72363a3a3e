"""Image decode, resize and on-the-fly augmentation (tf.image, stateless).

Images enter models as float32 in [0, 1], shaped [height, width, channels].
Augmentation draws its randomness from per-example seeds, so one seed gives
one stream of crops/flips regardless of threading.
"""

import math
import os

import tensorflow as tf

from research import config

CHANNELS = 3
SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp")  # what decode reads
# Random erasing's rectangle (Zhong et al., AAAI 2020, their defaults): a share
# of the image area and a height/width aspect, the aspect drawn log-uniformly.
ERASE_AREA = (0.02, 0.4)
ERASE_ASPECT = (0.3, 1 / 0.3)


def decode(encoded, image_size, channels=CHANNELS):
  """JPEG/PNG/GIF/BMP bytes -> float32 [height, width, channels] in [0, 1].

  Training (label files), predict and the exported serving signature all
  decode with this one function, so a file gets the same pixels everywhere.

  Args:
    encoded: scalar string tensor of the file's bytes.
    image_size: side of a square output, or (height, width).
    channels: 3 (RGB) or 1 (grayscale); files are converted to it.
  """
  size = ([image_size, image_size] if isinstance(image_size, int)
          else list(image_size))
  image = tf.io.decode_image(encoded, channels=channels,
                             expand_animations=False)  # [h, w, c] uint8
  image = tf.image.resize(image, size)  # float32 0..255; same size: unchanged
  return tf.clip_by_value(image / 255.0, 0.0, 1.0)


def undecodable(paths):
  """Indices of the files in `paths` that tf.io.decode_image cannot decode.

  Decodes in parallel with tf.data; failing elements are dropped by
  `ignore_errors`, so the indices that never come out are the bad ones.
  """
  if not paths:
    return set()
  indexed = tf.data.Dataset.from_tensor_slices(
      (tf.range(len(paths)), tf.constant(paths)))

  def decodes(index, path):
    image = tf.io.decode_image(tf.io.read_file(path), channels=CHANNELS,
                               expand_animations=False)
    return index, tf.reduce_max(image)  # uses the pixels: the decode must run

  good = indexed.map(decodes, num_parallel_calls=tf.data.AUTOTUNE)
  good = good.ignore_errors()
  seen = {int(i) for i, _ in good.as_numpy_iterator()}
  return set(range(len(paths))) - seen


def unreadable(paths):
  """[(index, message)] of the files in `paths` that are no image: the
  missing ones, then those that do not decode, each in the order of `paths`.

  Label files and predict's lists of images report them alike.
  """
  present = [i for i, path in enumerate(paths) if os.path.isfile(path)]
  missing = sorted(set(range(len(paths))) - set(present))
  bad = sorted(present[j] for j in undecodable([paths[i] for i in present]))
  return ([(i, f"image not found: {paths[i]}") for i in missing] +
          [(i, f"image cannot be decoded as JPEG/PNG/GIF/BMP: {paths[i]}")
           for i in bad])


def erased(image, seed, probability):
  """`image` with, at `probability`, one random rectangle of uniform noise.

  The rectangle covers ERASE_AREA of the image at an aspect in ERASE_ASPECT;
  where that does not fit, it is clipped to the image (the paper redraws).
  """
  shape = tf.shape(image)
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  draw_seed, noise_seed = tf.unstack(
      tf.random.experimental.stateless_split(seed, 2))
  erase_draw, area_draw, aspect_draw, top_draw, left_draw = tf.unstack(
      tf.random.stateless_uniform([5], draw_seed))
  low, high = ERASE_AREA
  area = height * width * (low + area_draw * (high - low))
  low, high = (math.log(bound) for bound in ERASE_ASPECT)
  aspect = tf.exp(low + aspect_draw * (high - low))
  rows = tf.minimum(tf.round(tf.sqrt(area * aspect)), height)
  cols = tf.minimum(tf.round(tf.sqrt(area / aspect)), width)
  top = tf.floor(top_draw * (height - rows + 1))
  left = tf.floor(left_draw * (width - cols + 1))
  row = tf.range(height)[:, None]
  col = tf.range(width)[None, :]
  inside = ((row >= top) & (row < top + rows) & (col >= left)
            & (col < left + cols) & (erase_draw < probability))
  noise = tf.random.stateless_uniform(shape, noise_seed)
  return tf.where(inside[:, :, None], noise, image)


def augmenter(crop_padding=0, flip=False, brightness=0.0, erase=0.0):
  """Returns augment(image, seed) -> image, or None when nothing is enabled.

  Args:
    crop_padding: pad by this many pixels (edge-reflected) and crop back to the
      original size at a random offset; 0 disables.
    flip: random left-right flips.
    brightness: random brightness delta in [-brightness, brightness].
    erase: probability of random erasing (`erased`), applied last; 0 disables.
  """
  if not (crop_padding or flip or brightness or erase):
    return None

  def augment(image, seed):  # image [h, w, c] float32, seed [2] int64
    seeds = tf.random.experimental.stateless_split(seed, 3)  # [3, 2]
    if crop_padding:
      padded = tf.pad(image, [[crop_padding] * 2, [crop_padding] * 2, [0, 0]],
                      mode="REFLECT")
      image = tf.image.stateless_random_crop(padded, tf.shape(image), seeds[0])
    if flip:
      image = tf.image.stateless_random_flip_left_right(image, seeds[1])
    if brightness:
      image = tf.image.stateless_random_brightness(image, brightness, seeds[2])
      image = tf.clip_by_value(image, 0.0, 1.0)
    if erase:
      # Folded in rather than a fourth split: adding erasing must not change
      # the crops and flips that a seed gave before it existed.
      image = erased(image, tf.random.experimental.stateless_fold_in(seed, 3),
                     erase)
    return image

  return augment


def augmenter_for(data_cfg):
  """`augmenter` of the --augment_* settings of config.DataConfig `data_cfg`."""
  return augmenter(data_cfg.augment_crop_padding, data_cfg.augment_flip,
                   data_cfg.augment_brightness, data_cfg.augment_erase)


def check_augment(data_cfg, input_kind):
  """Raises config.ConfigError when --augment_* flags are set for inputs that
  are not images: only image sources augment, the others would ignore them.

  Args:
    data_cfg: config.DataConfig.
    input_kind: the task's input kind (data.spec.DataSpec.input_kind).
  """
  if input_kind == "image":
    return
  augment_flags = [f"--{name}" for name in
                   ("augment_crop_padding", "augment_flip",
                    "augment_brightness", "augment_erase")
                   if getattr(data_cfg, name)]  # each is off at 0 / False
  if augment_flags:
    verb = "needs" if len(augment_flags) == 1 else "need"
    raise config.ConfigError(
        f"{', '.join(augment_flags)} {verb} image inputs, but the dataset "
        f"gives {input_kind} inputs")
