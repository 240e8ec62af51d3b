"""Configs (YAML, overrides, types, errors, saved copy), checkpoints (weights_only, atomic), seeding, sampler,
validation split, metric logs and device moves of weakpose.train."""

from __future__ import annotations

import dataclasses
import random
from collections import namedtuple
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pytest
import torch
import yaml

import weakpose.train.checkpoint as ckpt_mod
from weakpose.train import (
    ConfigError,
    CSVLogger,
    JSONLLogger,
    ShardedSampler,
    TrainConfig,
    Trainer,
    TrainTask,
    config_to_dict,
    epoch_permutation,
    get_rng_state,
    load_checkpoint,
    load_config,
    move_to_device,
    parse_config_args,
    read_csv_log,
    read_jsonl_log,
    resolve_device,
    save_checkpoint,
    save_config,
    seed_everything,
    set_rng_state,
    split_train_val,
)


@dataclasses.dataclass
class ModelCfg:
    hidden: tuple[int, ...] = (256, 256)
    dropout: float = 0.5
    act: Literal["relu", "tanh"] = "relu"
    extra: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class OptimCfg:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    warmup: Optional[int] = None


@dataclasses.dataclass
class ExpCfg:
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(batch_size=16))
    model: ModelCfg = dataclasses.field(default_factory=ModelCfg)
    optim: OptimCfg = dataclasses.field(default_factory=OptimCfg)
    name: str = "exp"
    subjects: list[str] = dataclasses.field(default_factory=lambda: ["S1", "S5"])


def _yaml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


# ----------------------------------------------------------------------------------------------- config


def test_yaml_then_overrides_with_type_coercion(tmp_path):
    path = _yaml(
        tmp_path,
        """
train: {epochs: 3, max_steps: 100}
model: {hidden: [64, 32], act: tanh}
optim: {lr: 1e-4}          # PyYAML reads 1e-4 as a string: coerced to float
name: 7                    # number into a str field
""",
    )
    cfg = load_config(
        ExpCfg,
        path,
        [
            "optim.lr=3e-3",
            "train.max_steps=null",
            "model.hidden=[8,8,8]",
            "train.deterministic=yes",
            "optim.warmup=500",
            "model.extra.scale=2",
            "optim.betas=[0.5, 0.9]",
            "subjects=[S6, S7]",
        ],
    )
    assert cfg.train.epochs == 3 and cfg.train.max_steps is None and cfg.train.deterministic is True
    assert cfg.train.batch_size == 16  # partial section keeps the parent's default_factory values
    assert cfg.model.hidden == (8, 8, 8) and cfg.model.act == "tanh"
    assert cfg.optim.lr == 3e-3 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.betas == (0.5, 0.9) and cfg.optim.warmup == 500
    assert cfg.model.extra == {"scale": 2.0} and cfg.name == "7" and cfg.subjects == ["S6", "S7"]
    # Without overrides the YAML values stand, with the YAML float quirk handled.
    cfg2 = load_config(ExpCfg, path)
    assert cfg2.optim.lr == 1e-4 and cfg2.train.max_steps == 100 and cfg2.model.hidden == (64, 32)


def test_unknown_keys_and_bad_values_name_the_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(ExpCfg, None, ["optim.lrr=1"])
    msg = str(e.value)
    assert "optim.lrr" in msg and "betas, lr, warmup" in msg and "did you mean 'lr'" in msg
    with pytest.raises(ConfigError, match=r"train\.batchsize.*cfg\.yaml"):
        load_config(ExpCfg, _yaml(tmp_path, "train: {batchsize: 4}\n"))
    with pytest.raises(ConfigError, match=r"'train\.epochs'.*expected int.*'three'"):
        load_config(ExpCfg, None, ["train.epochs=three"])
    with pytest.raises(ConfigError, match=r"model\.act.*'relu', 'tanh'"):
        load_config(ExpCfg, None, ["model.act=gelu"])
    with pytest.raises(ConfigError, match=r"optim\.betas.*2 items"):
        load_config(ExpCfg, None, ["optim.betas=[1,2,3]"])
    with pytest.raises(ConfigError, match=r"key=value"):
        load_config(ExpCfg, None, ["--optim.lr", "1"])
    with pytest.raises(ConfigError, match="validation"):
        load_config(ExpCfg, None, ["train.best_metric=test/mpjpe"])  # model selection on test data refused
    with pytest.raises(ConfigError, match=r"train\.epochs must be >= 1"):
        load_config(ExpCfg, None, ["train.epochs=0"])
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_config(ExpCfg, tmp_path / "missing.yaml")


def test_saved_config_reloads_equal_and_is_plain_yaml(tmp_path):
    cfg = load_config(ExpCfg, None, ["model.hidden=[3]", "optim.warmup=10", "train.out_dir=runs/x"])
    path = save_config(cfg, tmp_path / "run" / "config.yaml")
    plain = yaml.safe_load(path.read_text())
    assert plain["model"]["hidden"] == [3] and plain["train"]["out_dir"] == "runs/x"
    assert load_config(ExpCfg, path) == cfg
    assert config_to_dict(cfg) == plain


def test_command_line_precedence(tmp_path):
    path = _yaml(tmp_path, "train: {device: cuda, out_dir: from_yaml, seed: 3}\n")
    cfg, args = parse_config_args(
        ExpCfg, ["--config", str(path), "train.seed=9", "--device", "cpu", "--out", "o", "--resume", "optim.lr=0.5"]
    )
    assert (cfg.train.device, cfg.train.out_dir, cfg.train.seed, cfg.optim.lr) == ("cpu", "o", 9, 0.5)
    assert args.resume is True
    cfg, args = parse_config_args(ExpCfg, ["--resume-from", "a/last.pt"])
    assert args.resume == "a/last.pt" and cfg == ExpCfg()
    _, args = parse_config_args(TrainConfig, ["--out", "z"])
    assert args.resume is None


def test_resume_starts_from_the_runs_saved_config(tmp_path):
    run = tmp_path / "run"
    first, _ = parse_config_args(ExpCfg, ["--out", str(run), "optim.lr=0.25", "model.hidden=[4]"])
    save_config(first, run / "config.yaml")
    resumed, _ = parse_config_args(ExpCfg, ["--out", str(run), "--resume", "train.epochs=5"])
    assert resumed.optim.lr == 0.25 and resumed.model.hidden == (4,) and resumed.train.epochs == 5
    resumed, _ = parse_config_args(ExpCfg, ["--resume-from", str(run / "last.pt")])
    assert resumed == first
    fresh, _ = parse_config_args(ExpCfg, ["--out", str(run)])  # not resuming: defaults, not the saved file
    assert fresh.optim.lr == 1e-3


def test_resuming_another_scripts_run_names_the_checkpoint(tmp_path):
    @dataclasses.dataclass
    class OtherCfg:
        train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
        critic: int = 3

    run = tmp_path / "run"
    save_config(OtherCfg(train=TrainConfig(out_dir=str(run))), run / "config.yaml")
    for argv in (["--resume-from", str(run / "last.pt")], ["--out", str(run), "--resume"]):
        with pytest.raises(
            ConfigError,
            match=rf"{run / 'last.pt'} was written by a different script: .*unknown "
            rf"config key 'critic'.*start a fresh run in another train.out_dir",
        ):
            parse_config_args(ExpCfg, argv)
    # an explicit --config with a wrong key is the user's file, not the run's: the plain message
    with pytest.raises(ConfigError, match="unknown config key 'critic'") as err:
        parse_config_args(ExpCfg, ["--config", str(run / "config.yaml")])
    assert "different script" not in str(err.value)


# ----------------------------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_weights_only(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "config": config_to_dict(ExpCfg()),
        "rng": get_rng_state(),
        "step": 3,
    }
    path = save_checkpoint(state, tmp_path / "c.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["step"] == 3 and raw["config"]["train"]["batch_size"] == 16
    assert torch.equal(raw["model"]["weight"], model.weight.detach())
    assert torch.equal(raw["opt"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert load_checkpoint(path)["format"] == ckpt_mod.CHECKPOINT_FORMAT


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"cfg": ExpCfg()}, "['cfg']"),
        ({"a": {"b": np.zeros(2)}}, "['a']['b']"),
        ({"p": [1, namedtuple("P", "x")(1)]}, "['p'][1]"),
    ],
)
def test_checkpoint_refuses_what_weights_only_cannot_load(tmp_path, bad, where):
    with pytest.raises(TypeError) as e:
        save_checkpoint(bad, tmp_path / "c.pt")
    assert where in str(e.value)
    assert not (tmp_path / "c.pt").exists()


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"w": torch.arange(5.0), "step": 1}, path)

    def torn_save(obj, f):  # writes half a file, then the "disk" fails
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"w": torch.zeros(5), "step": 2}, path)
    monkeypatch.undo()
    old = load_checkpoint(path)
    assert old["step"] == 1 and torch.equal(old["w"], torch.arange(5.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left behind
    with pytest.raises(FileNotFoundError, match="other.pt"):
        load_checkpoint(tmp_path / "other.pt")


# ----------------------------------------------------------------------------------------------- seeding/sampling


def test_rng_state_round_trip_replays_all_generators(tmp_path):
    seed_everything(11)
    state = get_rng_state()
    first = (random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(4).tolist())
    seed_everything(99)  # scramble
    set_rng_state(state)
    again = (random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(4).tolist())
    assert again == first
    # The state survives a weights_only save/load.
    set_rng_state(torch.load(save_checkpoint({"rng": state}, tmp_path / "r.pt"), weights_only=True)["rng"])
    assert (random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(4).tolist()) == first


def test_sharded_sampler_partitions_the_epoch_permutation():
    n, world = 11, 3
    perm = epoch_permutation(n, seed=5, epoch=2)
    assert sorted(perm.tolist()) == list(range(n))
    assert torch.equal(perm, epoch_permutation(n, seed=5, epoch=2))
    assert not torch.equal(perm, epoch_permutation(n, seed=5, epoch=3))
    shards = []
    for r in range(world):
        s = ShardedSampler(n, seed=5, rank=r, world_size=world)
        s.set_epoch(2)
        shards.append(list(s))
    padded = perm.tolist() + perm.tolist()[:1]  # 11 -> 12 by wrapping round
    assert shards == [padded[r::world] for r in range(world)]
    s = ShardedSampler(n, seed=5, rank=1, world_size=world)
    s.set_epoch(2)
    s.set_start(2)
    assert list(s) == shards[1][2:] and len(s) == 2
    val = [list(ShardedSampler(n, shuffle=False, rank=r, world_size=world, pad=False)) for r in range(world)]
    assert sorted(sum(val, [])) == list(range(n))  # validation shards: every sample exactly once


def test_split_train_val_by_group():
    items = [(s, i) for s in ["S1", "S5", "S6", "S7", "S8"] for i in range(3)]
    train, val = split_train_val(items, key_fn=lambda it: it[0], val_groups=["S8"])
    assert val == [("S8", i) for i in range(3)] and train == items[:12]
    tr1, va1 = split_train_val(items, key_fn=lambda it: it[0], val_fraction=0.4, seed=3)
    tr2, va2 = split_train_val(list(reversed(items)), key_fn=lambda it: it[0], val_fraction=0.4, seed=3)
    val_groups = {s for s, _ in va1}
    assert len(val_groups) == 2 and val_groups == {s for s, _ in va2}  # same groups whatever the item order
    assert not val_groups & {s for s, _ in tr1} and len(tr1) + len(va1) == len(items)
    assert [it for it in items if it[0] in val_groups] == va1  # order kept
    with pytest.raises(KeyError, match="S9"):
        split_train_val(items, key_fn=lambda it: it[0], val_groups=["S9"])
    with pytest.raises(ValueError, match="keep one for training"):
        split_train_val(items[:3], key_fn=lambda it: it[0], val_fraction=0.5)


# ----------------------------------------------------------------------------------------------- logs, devices


def test_csv_header_grows_and_resume_drops_later_rows(tmp_path):
    log = CSVLogger(tmp_path / "m.csv")
    log.log(1, {"train/loss": 0.5})
    log.log(2, {"train/loss": 0.25, "val/mpjpe": 0.1})
    log.log(3, {"train/loss": 0.125})
    log.close()
    header = (tmp_path / "m.csv").read_text().splitlines()[0]
    assert header == "step,train/loss,val/mpjpe"
    assert read_csv_log(tmp_path / "m.csv") == [
        {"step": 1, "train/loss": 0.5},
        {"step": 2, "train/loss": 0.25, "val/mpjpe": 0.1},
        {"step": 3, "train/loss": 0.125},
    ]
    CSVLogger(tmp_path / "m.csv", resume_step=2).close()
    assert [r["step"] for r in read_csv_log(tmp_path / "m.csv")] == [1, 2]
    j = JSONLLogger(tmp_path / "m.jsonl")
    j.log(1, {"a": torch.tensor(2.5)})
    j.log(2, {"a": np.float32(1.5)})
    j.close()
    JSONLLogger(tmp_path / "m.jsonl", resume_step=1).close()
    assert read_jsonl_log(tmp_path / "m.jsonl") == [{"step": 1, "a": 2.5}]


def test_device_resolution_and_nested_moves():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda:0")
    with pytest.raises(ValueError, match="tpu"):
        resolve_device("tpu")
    Pair = namedtuple("Pair", "a b")
    batch = {"x": torch.ones(2, dtype=torch.float64), "pair": Pair(torch.zeros(1), [torch.ones(3), "s"]), "n": 3}
    moved = move_to_device(batch, torch.device("meta"))
    assert moved["x"].device.type == "meta" and moved["x"].dtype == torch.float64
    assert isinstance(moved["pair"], Pair) and moved["pair"].a.device.type == "meta"
    assert moved["pair"].b[0].device.type == "meta" and moved["pair"].b[1] == "s" and moved["n"] == 3


def test_optimizer_step_clips_to_train_grad_clip(tmp_path):
    """One SGD step (lr 1) with grad_clip c moves the weights by -c·g/|g| when |g| > c (g: the full gradient)."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 3), torch.randn(8, 1)

    class Task(TrainTask):
        def __init__(self):
            self.lin = torch.nn.Linear(3, 1)
            self.opt = torch.optim.SGD(self.lin.parameters(), lr=1.0)

        def training_step(self, batch, step):
            loss = torch.nn.functional.mse_loss(self.lin(batch[0]), batch[1])
            self.norm = self.optimizer_step(self.opt, loss)
            return {"loss": loss}

    task = Task()
    w0 = [p.detach().clone() for p in task.lin.parameters()]
    ref = torch.nn.Linear(3, 1)
    ref.load_state_dict(task.lin.state_dict())
    torch.nn.functional.mse_loss(ref(x), y).backward()
    g = [p.grad for p in ref.parameters()]
    gnorm = torch.sqrt(sum((gi**2).sum() for gi in g)).item()
    clip = 0.01
    assert gnorm > clip
    cfg = TrainConfig(
        out_dir=str(tmp_path),
        device="cpu",
        batch_size=8,
        max_steps=1,
        grad_clip=clip,
        progress=False,
        tensorboard=False,
    )
    Trainer(task, cfg, torch.utils.data.TensorDataset(x, y)).fit()
    assert task.norm == pytest.approx(gnorm, rel=1e-5)
    for p, p0, gi in zip(task.lin.parameters(), w0, g):
        torch.testing.assert_close(p.detach(), p0 - clip * gi / gnorm, rtol=1e-5, atol=1e-7)
