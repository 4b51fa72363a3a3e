"""experiments.ghm_density on synthetic logits (no training needed)."""

import numpy as np
import pytest

from experiments import ghm_density
from tests import helpers


def test_gradient_norm_of_hand_cases():
  logits = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [1.0, 2.0]])
  labels = np.array([0, 0, 0, -1])
  # [0.5, 0.5] - [1, 0] has norm sqrt(0.5); a sure right answer 0; a sure
  # wrong one [0, 1] - [1, 0] has norm sqrt(2); the -1 label is left out.
  np.testing.assert_allclose(ghm_density.gradient_norms(logits, labels),
                             [0.5, 0.0, 1.0], atol=1e-12)


def test_density_is_the_fraction_per_bin():
  norms = np.array([0.01, 0.02, 0.5, 0.99, 1.0])
  edges, fraction = ghm_density.density(norms, bins=4)
  np.testing.assert_allclose(edges, [0, 0.25, 0.5, 0.75, 1.0])
  np.testing.assert_allclose(fraction, [0.4, 0.0, 0.2, 0.4])


def _save_logits(path, rng, scale):
  labels = rng.integers(0, 5, 200)
  logits = rng.normal(size=(200, 5))
  logits[np.arange(200), labels] += scale
  np.savez(path, coarse_logits=logits[:, :2], coarse_labels=labels % 2,
           fine_logits=logits, fine_labels=labels)


def test_script_plots_ce_against_ghm(tmp_path):
  rng = np.random.default_rng(0)
  _save_logits(tmp_path / "ce.npz", rng, scale=6.0)
  _save_logits(tmp_path / "ghm.npz", rng, scale=2.0)
  output = tmp_path / "density.png"
  helpers.run_main(ghm_density.main, ce_logits=str(tmp_path / "ce.npz"),
                   ghm_logits=str(tmp_path / "ghm.npz"), output=str(output))
  assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  with pytest.raises(Exception, match="--ce_logits and --ghm_logits"):
    helpers.run_main(ghm_density.main, ce_logits=None)


@pytest.mark.parametrize("name, content, message", [
    ("logits_test.npz", None,
     "no such file; expected a logits_<split>.npz of research.evaluate, "
     "holding fine_logits and fine_labels"),
    ("logits.npy", "npy", "a single array, not an .npz archive; expected"),
    ("logits.npz", "text", "not readable as .npz"),
    ("other.npz", "npz", "holds values; expected"),
])
def test_a_file_that_is_not_evaluate_logits_stops_in_one_line(
    tmp_path, name, content, message):
  rng = np.random.default_rng(0)
  _save_logits(tmp_path / "ghm.npz", rng, scale=2.0)
  path = tmp_path / name
  if content == "npy":
    np.save(path, np.zeros((3, 5)))
  elif content == "text":
    path.write_text("not an archive\n")
  elif content == "npz":
    np.savez(path, values=np.zeros(3))
  output = tmp_path / "density.png"
  with pytest.raises(SystemExit) as error:
    helpers.run_main(ghm_density.main, ce_logits=str(path),
                     ghm_logits=str(tmp_path / "ghm.npz"), output=str(output))
  assert str(error.value).startswith(f"error: --ce_logits={path}: {message}")
  assert "\n" not in str(error.value)
  assert not output.exists()

