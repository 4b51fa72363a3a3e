"""Flags: flags.md matches the code, every flag reaches the config, bad
values stop the entry point with one line naming the flag."""

import copy
import importlib
import os
import subprocess
import sys

import pytest
from absl import flags as absl_flags

from research import config
from research import flags as flags_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flags_md_is_generated_from_the_code():
  with open(os.path.join(ROOT, "flags.md")) as handle:
    committed = handle.read()
  assert committed == flags_lib.markdown(), (
      "flags.md is out of date: run `python -m research.flags > flags.md`")


def test_every_flag_group_is_a_config_section_with_the_same_fields():
  for section, names in flags_lib.GROUPS.items():
    fields = set(config.SECTION_TYPES[section].__dataclass_fields__)
    assert set(names) == fields, section


def test_flag_defaults_equal_config_defaults():
  registered = flags_lib.FLAGS._flags()  # pylint: disable=protected-access
  defaults = config.Config()
  for section, names in flags_lib.GROUPS.items():
    for name in names:
      default = registered[name].default
      if name == "loss_weights":
        default = tuple(float(v) for v in default)
      elif isinstance(default, list):
        default = tuple(default)
      assert getattr(getattr(defaults, section), name) == default, name


def _parse(argv):
  """Parses argv with copies of our flags, leaving the global FLAGS untouched."""
  registered = flags_lib.FLAGS._flags()  # pylint: disable=protected-access
  values = absl_flags.FlagValues()
  for names in flags_lib.GROUPS.values():
    for name in names:
      values[name] = copy.deepcopy(registered[name])
  values(["train"] + argv)
  return values


def test_from_flags_builds_the_config(tmp_path):
  flagfile = tmp_path / "run.flags"
  flagfile.write_text("--epochs=3\n--loss_weights=0.5,2\n")
  values = _parse([f"--flagfile={flagfile}", "--batch_size=16"])
  cfg = config.from_flags(values, flags_lib.GROUPS)
  assert cfg.train.epochs == 3
  assert cfg.train.batch_size == 16
  assert cfg.loss.loss_weights == (0.5, 2.0)


def test_config_survives_json():
  cfg = config.Config().replace(train={"epochs": 3},
                                loss={"loss_weights": (0.2, 0.8)})
  assert config.Config.from_json(cfg.to_json()) == cfg


def test_config_json_with_an_unknown_field_names_it():
  with pytest.raises(ValueError, match="unknown field 'epochz'"):
    config.Config.from_json('{"train": {"epochz": 3}}')


@pytest.mark.parametrize("argv, flag", [
    (["--dataset=imagenet"], "--dataset"),
    (["--batch_size=-4"], "--batch_size"),
    (["--loss_weights=1"], "--loss_weights"),
    (["--loss_weights=1,-2"], "--loss_weights"),
    (["--loss_weights=a,b"], "--loss_weights"),
    (["--epochs=0"], "--epochs"),
    (["--augment_erase=1.5"], "--augment_erase"),
    (["--width=0"], "--width"),
    (["--width=-8"], "--width"),
    (["--synthetic_feature_dim=0"], "--synthetic_feature_dim"),
    (["--weight_decay=-1"], "--weight_decay"),
    (["--sgd_momentum=1"], "--sgd_momentum"),
    (["--warmup_epochs=-1"], "--warmup_epochs"),
])
def test_bad_flag_values_are_rejected_naming_the_flag(argv, flag):
  with pytest.raises(absl_flags.IllegalFlagValueError, match=flag):
    _parse(argv)


def test_sgd_options_and_a_warmup_parse_into_the_config():
  values = _parse(["--optimizer=sgd", "--sgd_momentum=0.8", "--sgd_nesterov",
                   "--epochs=4", "--warmup_epochs=0.5"])
  cfg = config.from_flags(values, flags_lib.GROUPS)
  assert (cfg.optim.sgd_momentum, cfg.optim.sgd_nesterov,
          cfg.optim.warmup_epochs) == (0.8, True, 0.5)


def test_model_dir_that_is_a_file_is_rejected(tmp_path):
  existing_file = tmp_path / "results.txt"
  existing_file.write_text("keep me")
  with pytest.raises(absl_flags.IllegalFlagValueError, match="--model_dir"):
    _parse([f"--model_dir={existing_file}"])
  assert existing_file.read_text() == "keep me"


def _run_train(*flags):
  """research.train in a subprocess, as a user runs it."""
  return subprocess.run([sys.executable, "-m", "research.train", *flags],
                        cwd=ROOT, capture_output=True, text=True, timeout=120,
                        check=False)


def test_entry_point_stops_on_a_bad_flag_before_any_work(tmp_path):
  model_dir = tmp_path / "run"
  result = _run_train("--batch_size=-1", f"--model_dir={model_dir}")
  assert result.returncode != 0
  errors = [line for line in result.stderr.splitlines() if "Flags" in line]
  assert errors == [
      "FATAL Flags parsing error: flag --batch_size=-1: "
      "expected a positive integer"], result.stderr
  assert not model_dir.exists()


@pytest.mark.parametrize("flags, message", [
    (["--mirror_at_inference"],
     "--mirror_at_inference needs image inputs, but the dataset gives "
     "features inputs"),
    (["--augment_flip", "--augment_crop_padding=4"],
     "--augment_crop_padding, --augment_flip need image inputs, but the "
     "dataset gives features inputs"),
    (["--loss=focal", "--fine_focal_alpha=1,2"],
     "--fine_focal_alpha: expected 27 values (one per fine class), got 2"),
    (["--hierarchy_file={map}"],
     "{map}:2: expected '<coarse> <fine>', got 'not a pair', which splits "
     "into no pair of the task's class names; give an index for a name with "
     "spaces"),
])
def test_flags_that_do_not_fit_the_data_stop_in_one_line(
    tmp_path, flags, message):
  # The mismatch shows only once the data is loaded; the folder stays
  # unclaimed, so a rerun with fixed flags can use it.
  mapping = tmp_path / "map.txt"
  mapping.write_text("0 0\nnot a pair\n")
  model_dir = tmp_path / "run"
  result = _run_train(*[f.format(map=mapping) for f in flags],
                      f"--model_dir={model_dir}")
  assert result.returncode == 1
  assert result.stderr.splitlines()[-1] == (
      f"error: {message.format(map=mapping)}"), result.stderr
  assert "Traceback" not in result.stderr
  assert not (model_dir / "config.json").exists()


def test_every_flag_of_the_entry_points_is_in_flags_md():
  # An entry point that defined its own flag would leave flags.md short.
  # (The benchmark scripts keep their own flags: they clash with these.)
  for module in ("research.train", "research.evaluate", "research.predict",
                 "research.export", "research.data.check",
                 "research.data.to_tfrecord", "experiments.run",
                 "experiments.ghm_density",
                 "experiments.recipes.fashion_mnist"):
    importlib.import_module(module)
  documented = {name for names in {**flags_lib.GROUPS,
                                   **flags_lib.TOOL_GROUPS}.values()
                for name in names}
  for module, defined in flags_lib.FLAGS.flags_by_module_dict().items():
    if module.startswith(("research", "experiments")):
      assert {flag.name for flag in defined} <= documented, module
