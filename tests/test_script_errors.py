"""Sample scripts end a user error with one line on stderr (exit 2), keep tracebacks for bugs and under --debug
(weakpose.train.startup.run_script), and refuse unusable numbers when the config is read (check_values)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
import torch

from weakpose.train import ConfigError, TrainConfig, load_config, parse_config_args
from weakpose.train.config import check_values
from weakpose.train.startup import error_message, is_user_error, run_script

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "sample" / "train_lifter_baseline.py"  # imports the least; every case below fails while parsing


def _run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    env.pop("WEAKPOSE_DEBUG", None)
    # cwd is a temporary folder so nothing (runs/, data/synthetic) can land in the repository.
    return subprocess.run(
        [sys.executable, str(SCRIPT), f"train.out_dir={tmp_path / 'run'}", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ the script itself


def test_script_bad_batch_size_is_one_line_exit_2(tmp_path):
    proc = _run_script(tmp_path, "train.batch_size=0")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert _lines(proc.stderr) == ["train_lifter_baseline.py: error: train.batch_size must be >= 1, got 0"]
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()


def test_script_missing_data_names_the_path_and_debug_shows_traceback(tmp_path):
    missing = tmp_path / "nowhere" / "data_3d_h36m.npz"
    proc = _run_script(tmp_path, f"data.root={missing}")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = _lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("train_lifter_baseline.py: error: ") and str(missing) in lines[0]
    assert not (tmp_path / "data").exists()  # failed before generating the synthetic default data

    debug = _run_script(tmp_path, "--debug", "train.batch_size=0")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "train.batch_size must be >= 1, got 0" in debug.stderr


# ------------------------------------------------------------------------------------------ run_script


def _raiser(exc: BaseException):
    def main(argv=None):
        raise exc

    return main


def _run(exc: BaseException, capsys, argv=()) -> tuple[int, str]:
    code = run_script(_raiser(exc), argv=list(argv), prog="demo.py")
    err = capsys.readouterr().err
    return code, err


@pytest.fixture(autouse=True)
def _no_debug_env(monkeypatch):
    monkeypatch.delenv("WEAKPOSE_DEBUG", raising=False)


def test_library_error_is_one_line(capsys):
    code, err = _run(ConfigError("train.batch_size must be >= 1, got 0"), capsys)
    assert code == 2 and err == "demo.py: error: train.batch_size must be >= 1, got 0\n"


def test_error_class_defined_in_weakpose_counts_even_if_runtime_error(capsys):
    # stands for a lock/resume error of weakpose.train that subclasses RuntimeError
    locked = type("RunLockedError", (RuntimeError,), {"__module__": "weakpose.train.fake_lock"})
    assert is_user_error(locked("x")) and not is_user_error(RuntimeError("x"))
    code, err = _run(locked("runs/x is in use by another process (pid 12)"), capsys)
    assert code == 2 and err == "demo.py: error: runs/x is in use by another process (pid 12)\n"


def test_value_error_and_multiline_message(capsys):
    code, err = _run(ValueError("bad value\n  in file a.yaml, line 3\n"), capsys)
    assert code == 2 and err == "demo.py: error: bad value in file a.yaml, line 3\n"
    code, err = _run(ValueError(), capsys)
    assert code == 2 and err == "demo.py: error: ValueError\n"


def test_key_error_is_printed_without_quotes(capsys):
    code, err = _run(KeyError("no sequence 'Walking' of S1 in data.npz"), capsys)
    assert code == 2 and err == "demo.py: error: no sequence 'Walking' of S1 in data.npz\n"
    code, err = _run(KeyError("S1"), capsys)
    assert code == 2 and err == "demo.py: error: missing key 'S1'\n"


def test_os_errors_name_the_path(tmp_path, capsys):
    missing = tmp_path / "absent.npz"
    try:
        open(missing)
    except FileNotFoundError as exc:
        caught = exc
    code, err = _run(caught, capsys)
    assert code == 2 and err == f"demo.py: error: No such file or directory: {missing}\n"
    assert error_message(PermissionError(13, "Permission denied", "/root/x")) == "Permission denied: /root/x"


@pytest.mark.parametrize("exc", [TypeError("bug"), AttributeError("bug"), IndexError("bug"), RuntimeError("bug")])
def test_programming_errors_keep_their_traceback(exc, capsys):
    with pytest.raises(type(exc)):
        run_script(_raiser(exc), argv=[], prog="demo.py")
    assert capsys.readouterr().err == ""


def test_keyboard_interrupt(capsys):
    code, err = _run(KeyboardInterrupt(), capsys)
    assert code == 130 and err == "demo.py: interrupted\n"


def test_debug_flag_or_env_reraises(monkeypatch, capsys):
    with pytest.raises(ValueError):
        run_script(_raiser(ValueError("x")), argv=["--debug"], prog="demo.py")
    with pytest.raises(KeyboardInterrupt):
        run_script(_raiser(KeyboardInterrupt()), argv=["a=1", "--debug"], prog="demo.py")
    assert _run(ValueError("x"), capsys, argv=["--", "--debug"])[0] == 2  # after '--' it is not the flag
    monkeypatch.setenv("WEAKPOSE_DEBUG", "1")
    with pytest.raises(ConfigError):
        run_script(_raiser(ConfigError("x")), argv=[], prog="demo.py")


def test_exit_status_and_argv_pass_through():
    seen = []

    def main(argv=None) -> Optional[int]:
        seen.append(argv)
        return 3 if argv else None

    assert run_script(main, argv=["a=1"], prog="demo.py") == 3 and seen == [["a=1"]]
    assert run_script(main, argv=[], prog="demo.py") == 0


# ------------------------------------------------------------------------------------------ config checks


@dataclasses.dataclass
class _Optim:
    lr: float = 1e-3
    critic_lr: float = 1e-4
    lr_decay: float = 0.96
    decay_every: int = 100
    weight_decay: float = 0.0
    n_critic: int = 5


@dataclasses.dataclass
class _Data:
    stride: int = 1
    test_stride: int = 1
    encode_batch_size: int = 32


@dataclasses.dataclass
class _Cfg:
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    optim: _Optim = dataclasses.field(default_factory=_Optim)
    data: _Data = dataclasses.field(default_factory=_Data)
    dropout: float = 0.5


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.batch_size=0", "train.batch_size must be >= 1, got 0"),
        ("train.batch_size=-4", "train.batch_size must be >= 1, got -4"),
        ("train.max_steps=0", "train.max_steps must be >= 1 or null, got 0"),
        ("optim.lr=0", "optim.lr must be > 0, got 0.0"),
        ("optim.critic_lr=-1e-4", "optim.critic_lr must be > 0, got -0.0001"),
        ("optim.lr=nan", "optim.lr must be > 0, got nan"),
        ("optim.lr_decay=0", "optim.lr_decay must be > 0, got 0.0"),
        ("optim.decay_every=0", "optim.decay_every must be >= 1, got 0"),
        ("optim.weight_decay=-1", "optim.weight_decay must be >= 0, got -1.0"),
        ("optim.n_critic=0", "optim.n_critic must be >= 1, got 0"),
        ("data.stride=0", "data.stride must be >= 1, got 0"),
        ("data.test_stride=-1", "data.test_stride must be >= 1, got -1"),
        ("data.encode_batch_size=0", "data.encode_batch_size must be >= 1, got 0"),
        ("dropout=1", "dropout must be in [0, 1), got 1.0"),
    ],
)
def test_unusable_numbers_are_refused_when_parsed(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(_Cfg, None, [override])
    assert str(info.value) == message


def test_usable_numbers_pass_and_debug_is_an_accepted_flag():
    cfg = load_config(_Cfg, None, ["train.max_steps=null", "optim.weight_decay=0", "dropout=0", "train.batch_size=1"])
    check_values(cfg)
    assert cfg.train.max_steps is None and cfg.dropout == 0.0
    cfg, args = parse_config_args(_Cfg, ["--debug", "optim.lr=0.5"])
    assert args.debug is True and cfg.optim.lr == 0.5
