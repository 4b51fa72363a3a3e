"""Reader for gzipped IDX files (the MNIST family format), with checks.

IDX: a big-endian header (two zero bytes, a type code, the number of
dimensions, then one uint32 size per dimension) followed by the data. Only the
unsigned-byte type (0x08) is read, as in (Fashion-)MNIST.
"""

import gzip
import struct

import numpy as np

from research.data import problems as problems_lib

UBYTE = 0x08


def read(path, ndim):
  """Returns (uint8 array, problems) of an IDX file with `ndim` dimensions."""
  try:
    with gzip.open(path, "rb") as handle:
      raw = handle.read()
  except (OSError, EOFError) as error:
    return None, [problems_lib.Problem(path, None,
                                       f"not a readable gzip file ({error})")]
  header_size = 4 + 4 * ndim
  if len(raw) < header_size:
    return None, [problems_lib.Problem(
        path, None, f"too short for an IDX header ({len(raw)} bytes)")]
  zeros, kind, dims = struct.unpack(">HBB", raw[:4])
  expected_magic = (UBYTE << 8) | ndim
  if zeros != 0 or kind != UBYTE or dims != ndim:
    return None, [problems_lib.Problem(
        path, None, f"bad IDX magic number 0x{struct.unpack('>I', raw[:4])[0]:08x}"
        f" (expected 0x{expected_magic:08x}: unsigned bytes, {ndim} "
        "dimensions)")]
  shape = struct.unpack(f">{ndim}I", raw[4:header_size])
  size = int(np.prod(shape))
  if len(raw) - header_size != size:
    return None, [problems_lib.Problem(
        path, None, f"header says {size} data bytes (shape "
        f"{'x'.join(map(str, shape))}), file has {len(raw) - header_size}")]
  data = np.frombuffer(raw, np.uint8, count=size, offset=header_size)
  return data.reshape(shape), []
