"""Every sample script can be discovered from the command line: --help lists its flags and every config key
(type, default, help), --print-config prints the resolved config, and a mistyped key names the closest one."""

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import List, Optional

import pytest
import yaml

from weakpose.train.config import ConfigError, Shortcut, TrainConfig, config_keys_help, parse_config_args

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p.name for p in (ROOT / "sample").glob("train_*.py"))


@dataclasses.dataclass
class _Optim:
    lr: float = 1e-3  # Adam step size
    betas: List[float] = dataclasses.field(default_factory=lambda: [0.9, 0.999])


@dataclasses.dataclass
class _Config:
    optim: _Optim = dataclasses.field(default_factory=_Optim)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data_root: Optional[str] = None  # where the data lives
    budget_minutes: float = 0.0


SHORTCUTS = (
    Shortcut("--data", "data_root", "the data folder"),
    Shortcut("--budget-minutes", "budget_minutes", "stop after N minutes"),
    Shortcut("--quick", "train.max_steps", "a short run", value="10"),
)


def test_keys_help_reads_types_defaults_and_field_comments():
    rows = {key: (tp, default, text) for key, tp, default, text in config_keys_help(_Config)}
    assert rows["optim.lr"] == ("float", "0.001", "Adam step size")
    assert rows["optim.betas"][1] == "[0.9, 0.999]"
    assert rows["data_root"] == ("Optional[str]", "null", "where the data lives")
    assert rows["train.batch_size"][:2] == ("int", "32")


def test_help_lists_description_shortcuts_and_keys(capsys):
    with pytest.raises(SystemExit) as done:
        parse_config_args(_Config, ["--help"], description="Train the thing.", shortcuts=SHORTCUTS)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "Train the thing." in out and "--budget-minutes" in out and "--print-config" in out
    assert "optim.lr" in out and "Adam step size" in out and "train.batch_size" in out


def test_shortcuts_become_overrides_and_explicit_keys_win(capsys):
    cfg, _ = parse_config_args(_Config, ["--data", "/d", "--quick"], shortcuts=SHORTCUTS)
    assert cfg.data_root == "/d" and cfg.train.max_steps == 10
    cfg, _ = parse_config_args(_Config, ["--quick", "train.max_steps=3"], shortcuts=SHORTCUTS)
    assert cfg.train.max_steps == 3
    with pytest.raises(SystemExit) as done:
        parse_config_args(_Config, ["--print-config", "optim.lr=0.5"], shortcuts=SHORTCUTS)
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["optim"]["lr"] == 0.5 and printed["train"]["batch_size"] == 32
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        parse_config_args(_Config, ["optim.lrr=1"])


def _load(script: str):
    name = script[:-3]
    spec = importlib.util.spec_from_file_location(name, ROOT / "sample" / script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_sample_script_help_lists_its_config_keys(script, capsys):
    with pytest.raises(SystemExit) as done:
        _load(script).main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "config keys" in out and "train.batch_size" in out and "--print-config" in out


# The flags each script takes besides the standard ones; --help must list every one of them.
SCRIPT_SHORTCUTS = {
    "train_3d_pose_from_enc.py": ["--data", "--budget-minutes", "--encoder"],
    "train_video_gan.py": ["--data", "--budget-minutes", "--supervision", "--temporal-critic"],
}


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_sample_script_help_lists_its_shortcuts_and_run_section(script, capsys):
    with pytest.raises(SystemExit):
        _load(script).main(["--help"])
    out = capsys.readouterr().out
    for flag in SCRIPT_SHORTCUTS.get(script, ["--data", "--budget-minutes"]):
        assert flag in out, (script, flag)
    for key in ("data.root", "run.images_dir", "run.num_threads", "run.budget_minutes", "optim.lr"):
        assert key in out, (script, key)


@pytest.mark.parametrize("script", SCRIPTS)
def test_one_spelling_per_concept(script):
    """Learning rates live in optim, loss weights are loss.weight_*, data is data.root, figures/threads/budget are
    in the run section, and a run writes its figures into its own folder unless told otherwise."""
    module = _load(script)
    keys = [key for key, *_ in config_keys_help(module.Config)]
    for key in keys:
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "lr" or leaf.endswith("_lr") or leaf in ("lr_decay", "decay_every", "n_critic"):
            assert key.startswith("optim."), (script, key)
        assert not leaf.startswith("w_") and leaf not in ("data_root", "encoder", "prior"), (script, key)
        if leaf in ("images_dir", "num_threads", "budget_minutes"):
            assert key == f"run.{leaf}", (script, key)
        if "weight" in leaf and leaf not in ("weight_decay", "weight_decays", "backbone_weights"):
            # foreground_weight weights pixels within the L1, not a loss term
            assert key.startswith("loss.weight_") or key == "loss.foreground_weight", (script, key)
    assert "data.root" in keys
    cfg = module.Config()
    assert cfg.run.images(cfg.train.out_dir) == Path(cfg.train.out_dir) / "images"  # never the tracked images/
