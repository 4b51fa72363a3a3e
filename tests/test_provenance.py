"""provenance: the commit of the code that made a run."""

import subprocess

from research import provenance


def _git(folder, *args):
  subprocess.run(["git", "-C", str(folder), *args], check=True,
                 capture_output=True)


def test_code_version_is_the_checkout_commit_and_whether_it_was_changed(
    tmp_path):
  _git(tmp_path, "init", "-q")
  (tmp_path / "model.py").write_text("width = 16\n")
  _git(tmp_path, "add", "model.py")
  _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm",
       "first")
  commit = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
  (tmp_path / "runs").mkdir()
  (tmp_path / "runs" / "results.json").write_text("{}")  # untracked
  assert provenance.code_version(str(tmp_path)) == {"commit": commit,
                                                    "modified": False}
  (tmp_path / "model.py").write_text("width = 24\n")
  assert provenance.code_version(str(tmp_path)) == {"commit": commit,
                                                    "modified": True}


def test_code_version_outside_a_checkout_is_none(tmp_path):
  assert provenance.code_version(str(tmp_path)) is None
