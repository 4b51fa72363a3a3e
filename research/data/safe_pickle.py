"""A restricted unpickler for dataset pickles: data in, no code run.

A pickle can name any importable callable and have it called while loading,
so a downloaded file could run code. This unpickler resolves only the globals
that dataset pickles of numpy arrays need (array reconstruction, dtype, the
bytes helper of protocol 2); everything else is refused. Builtin containers
(dict, list, tuple, str, bytes, int, float) need no globals at all.
"""

import io
import pickle

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class RefusedPickle(pickle.UnpicklingError):
  """Raised when a pickle names a global outside ALLOWED."""


class RestrictedUnpickler(pickle.Unpickler):

  def find_class(self, module, name):
    if (module, name) not in ALLOWED:
      raise RefusedPickle(
          f"refusing to unpickle {module}.{name}: only builtin containers and "
          "numpy arrays are allowed in a dataset pickle")
    return super().find_class(module, name)


def loads(data, encoding="bytes"):
  """Unpickles `data` allowing only containers and numpy arrays.

  Args:
    data: the pickle bytes.
    encoding: how Python 2 `str` objects decode ("bytes" keeps them bytes, as
      the CIFAR files' dictionary keys are).

  Returns:
    The unpickled object; raises RefusedPickle for anything else.
  """
  return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
