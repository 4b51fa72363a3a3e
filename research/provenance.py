"""Which code made a run: the git commit of this checkout, for results.json.

A table mixes runs from several days; the commit (and whether tracked files
had uncommitted changes) tells a reader which numbers came from which code.
"""

import os
import subprocess

CODE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(folder, *args):
  return subprocess.run(["git", "-C", folder, *args], capture_output=True,
                        text=True, timeout=10, check=True).stdout.strip()


def code_version(folder=CODE_ROOT):
  """{"commit": sha, "modified": bool} of the git checkout at `folder`.

  `modified` is true when tracked files differ from the commit (untracked
  files, such as run folders, do not count). None when `folder` is not a
  git checkout (e.g. an installed copy) or git is missing.
  """
  try:
    commit = _git(folder, "rev-parse", "HEAD")
    changes = _git(folder, "status", "--porcelain", "--untracked-files=no")
  except (OSError, subprocess.SubprocessError):
    return None
  return {"commit": commit, "modified": bool(changes)}
