"""Where a results-writing tool may write: committed results stay committed."""

import os


def results_dir(given, committed_dir, changed_flags, what):
  """`given`, else `committed_dir` when no flag changed `what`.

  `committed_dir` holds results that README quotes, so only `what` as
  committed (the recipe, a study) may write there.

  Args:
    given: the --results_dir flag value, or empty.
    committed_dir: the default folder of the committed results.
    changed_flags: names of the flags that changed `what`.
    what: what the flags change, for the message ("the recipe").

  Raises:
    ValueError naming the changed flags when some changed and no other
    folder than `committed_dir` was given.
  """
  if not changed_flags:
    return given or committed_dir
  flags = ", ".join(f"--{name}" for name in changed_flags)
  if not given:
    raise ValueError(f"this run changes {what} ({flags}); give --results_dir "
                     f"so it does not overwrite the committed {committed_dir}")
  if is_committed(given, committed_dir):
    raise ValueError(f"this run changes {what} ({flags}); --results_dir="
                     f"{given} is the committed folder; give another")
  return given


def is_committed(folder, committed_dir):
  """True if `folder` is `committed_dir`, also through a symlink or `..`."""
  return os.path.realpath(folder) == os.path.realpath(committed_dir)
