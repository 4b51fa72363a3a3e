"""README's ablation tables are copies of the generated table files."""

import os

import pytest

from experiments import readme_tables


def test_synced_replaces_a_block_with_the_table_of_its_file(tmp_path):
  (tmp_path / "table.md").write_text(
      "# Study\n\ntext\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## Commands\n")
  readme = ("intro\n<!-- table: table.md -->\n| stale |\n<!-- end table -->\n"
            "outro\n")
  assert readme_tables.synced(readme, str(tmp_path)) == (
      "intro\n<!-- table: table.md -->\n| a | b |\n|---|---|\n| 1 | 2 |\n"
      "<!-- end table -->\noutro\n")


def test_readme_tables_match_the_generated_files():
  with open(os.path.join(readme_tables.ROOT, "README.md")) as handle:
    readme = handle.read()
  assert "<!-- table: " in readme
  assert readme_tables.synced(readme) == readme, (
      "README tables are stale: run `python -m experiments.readme_tables`")


def test_a_failed_readme_write_leaves_it_whole_and_no_temp_file(
    tmp_path, monkeypatch):
  readme = "<!-- table: t.md -->\n| old |\n<!-- end table -->\n"
  (tmp_path / "README.md").write_text(readme)
  (tmp_path / "t.md").write_text("# T\n\n| new |\n")

  def failing_replace(source, target):
    raise OSError("disk full")

  monkeypatch.setattr(os, "replace", failing_replace)
  with pytest.raises(OSError, match="disk full"):
    readme_tables.main(str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == ["README.md", "t.md"]
  assert (tmp_path / "README.md").read_text() == readme
