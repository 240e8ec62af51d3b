"""Every sample-script command the documentation quotes still parses: README.md, data/README.md, the scripts' own
docstrings and the first-line comments of configs/*.yaml.

Each ``python sample/<script>.py ARGS`` (or ``torchrun ... sample/<script>.py ARGS``) found in a fenced code block
or an inline code span (shell continuations joined, ``#`` comments and ``&&`` chains cut) runs in-process as
``main([*ARGS, "--print-config"])`` (a quoted ``--help`` as it is), which resolves the whole config (YAML file,
shortcuts, key=value overrides) and exits 0 without training. A renamed key or flag therefore fails here, naming the
file and the command. A command this test cannot check fails too: nothing is skipped silently.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "data" / "README.md"]
SCRIPTS = sorted(p.name for p in (ROOT / "sample").glob("train_*.py"))

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_SCRIPT = re.compile(r"(?:^|\s)(?:python3?|torchrun)\b[^\n]*?\bsample/([\w.-]+)")


class Command(NamedTuple):
    source: str  # where it was quoted, for the test id and messages
    text: str  # the command as quoted (one line)


def _join_continuations(block: str) -> List[str]:
    return re.sub(r"\\\n\s*", " ", block).splitlines()


def _commands_in_text(text: str, source: str, shell_lines: List[str]) -> List[Command]:
    found = [Command(source, line.strip()) for line in shell_lines if _SCRIPT.search(line)]
    for span in _INLINE.findall(text):
        span = " ".join(span.split())  # a span may break across lines in markdown
        if _SCRIPT.search(span) and span.split()[0] in ("python", "python3", "torchrun"):
            found.append(Command(source, span))
    return found


def markdown_commands(path: Path) -> List[Command]:
    text = path.read_text(encoding="utf-8")
    lines = [line for block in _FENCE.findall(text) for line in _join_continuations(block)]
    return _commands_in_text(_FENCE.sub("", text), path.relative_to(ROOT).as_posix(), lines)


def docstring_commands(script: Path) -> List[Command]:
    spec_text = script.read_text(encoding="utf-8")
    match = re.match(r'\s*r?"""(.*?)"""', spec_text, re.S)
    doc = match.group(1) if match else ""
    lines = _join_continuations(doc)
    return [
        Command(f"{script.relative_to(ROOT).as_posix()} docstring", line.strip())
        for line in lines
        if _SCRIPT.search(line)
    ]


def config_commands(path: Path) -> List[Command]:
    first = path.read_text(encoding="utf-8").splitlines()[0] if path.read_text(encoding="utf-8") else ""
    return [Command(path.relative_to(ROOT).as_posix(), first.lstrip("# ").strip())]


def all_commands() -> List[Command]:
    out: List[Command] = []
    for doc in DOCS:
        out += markdown_commands(doc)
    for script in sorted((ROOT / "sample").glob("train_*.py")):
        out += docstring_commands(script)
    for config in sorted((ROOT / "configs").glob("*.yaml")):
        out += config_commands(config)
    return out


COMMANDS = all_commands()


def split_command(text: str) -> tuple[str, List[str]]:
    """(script file name, its arguments) of one quoted command; ValueError when it cannot be checked."""
    segment = next((s for s in re.split(r"&&|\|\||;|\|", text) if "sample/" in s), None)
    if segment is None:
        raise ValueError("no 'sample/<script>.py' in the command")
    tokens = shlex.split(segment, comments=True)
    at = [i for i, t in enumerate(tokens) if re.fullmatch(r"(\./)?sample/[\w.-]+", t)]
    if len(at) != 1:
        raise ValueError(f"expected one sample script in {tokens}")
    head = tokens[: at[0]]
    if not head or Path(head[0]).name not in ("python", "python3", "torchrun"):
        raise ValueError(f"the script is not run by python or torchrun: {head}")
    script = Path(tokens[at[0]]).name
    if not (ROOT / "sample" / script).is_file():
        raise ValueError(f"sample/{script} does not exist")
    args = tokens[at[0] + 1 :]
    # a --config path is relative to the repository root, where the documentation's commands are run
    args = [
        str(ROOT / a) if i and args[i - 1] == "--config" and not Path(a).is_absolute() else a
        for i, a in enumerate(args)
    ]
    args = [
        f"--config={ROOT / a[9:]}" if a.startswith("--config=") and not Path(a[9:]).is_absolute() else a for a in args
    ]
    return script, args


_MODULES: Dict[str, object] = {}


def load_script(script: str):
    if script not in _MODULES:
        name = script[:-3]
        spec = importlib.util.spec_from_file_location(name, ROOT / "sample" / script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
        _MODULES[script] = module
    return _MODULES[script]


def test_the_documentation_quotes_commands_of_every_script():
    assert len(COMMANDS) >= 20, COMMANDS
    quoted = {_SCRIPT.search(c.text).group(1) for c in COMMANDS}
    missing = sorted(set(SCRIPTS) - quoted)
    assert not missing, f"no documented command runs {missing}"
    readme = {c.text for c in COMMANDS if c.source == "README.md"}
    assert any("train_lifter_baseline.py" in c for c in readme), "README's main command was not found"


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.source}: {c.text[:70]}" for c in COMMANDS])
def test_documented_command_resolves_its_config(command, tmp_path, monkeypatch, capsys):
    try:
        script, args = split_command(command.text)
    except ValueError as exc:
        pytest.fail(f"{command.source}: cannot check `{command.text}`: {exc}")
    monkeypatch.chdir(tmp_path)  # --resume must not find a run folder of this checkout
    main = load_script(script).main
    asks_help = any(a in ("--help", "-h") for a in args)
    with pytest.raises(SystemExit) as done:
        main(args if asks_help or "--print-config" in args else [*args, "--print-config"])
    out, err = capsys.readouterr()
    assert done.value.code == 0, f"{command.source}: `{command.text}` failed to parse:\n{err}"
    if asks_help:
        assert "config keys" in out and "run.images_dir" in out
        return
    resolved = yaml.safe_load(out)
    assert isinstance(resolved, dict) and "train" in resolved and "run" in resolved, out


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_example_config_loads_with_its_script_and_sets_its_values(config, capsys):
    path = ROOT / "configs" / config
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith("# python sample/") and f"--config configs/{config}" in first, (
        f"configs/{config} must start with the command that uses it, e.g. "
        f"'# python sample/<script>.py --config configs/{config}'"
    )
    script, _ = split_command(first.lstrip("# "))
    with pytest.raises(SystemExit) as done:
        load_script(script).main(["--config", str(path), "--print-config"])
    assert done.value.code == 0
    resolved = _flatten(yaml.safe_load(capsys.readouterr().out))
    for key, value in _flatten(yaml.safe_load(text)).items():
        got = resolved[key]
        assert got == value or (isinstance(value, list) and list(got) == value), (config, key, value, got)


def test_extraction_joins_continuations_and_cuts_comments_and_chains():
    md = (
        "```bash\npip install -e . && python sample/train_enc_dec.py --data d \\\n    train.max_steps=3  # c\n```\n"
        "Inline `python sample/train_repnet.py\nunpaired=shuffle` too.\n"
    )
    lines = [line for block in _FENCE.findall(md) for line in _join_continuations(block)]
    found = _commands_in_text(_FENCE.sub("", md), "x.md", lines)
    assert [split_command(c.text) for c in found] == [
        ("train_enc_dec.py", ["--data", "d", "train.max_steps=3"]),
        ("train_repnet.py", ["unpaired=shuffle"]),
    ]
    with pytest.raises(ValueError, match="does not exist"):
        split_command("python sample/train_nothing.py")
