"""Issue #13 hardening: stale temporaries of killed writes, the run-folder lock, resuming across world sizes, and
one clear sentence (not a torch traceback) when a checkpoint does not fit the task resuming from it."""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from weakpose.io_utils import TEMP_MARKER, atomic_write_path, remove_stale_temporaries, writer_tag
from weakpose.train import (
    Callback,
    CheckpointMismatchError,
    RunFolderLock,
    RunFolderLockedError,
    ShardedSampler,
    TrainConfig,
    Trainer,
    TrainTask,
    epoch_permutation,
    load_checkpoint,
    resume_batch_in_epoch,
    save_checkpoint,
)
from weakpose.train.run_lock import LOCK_FILE_NAME

torch.set_num_threads(1)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


import _ddp_worker as W  # noqa: E402 - tests/ is on sys.path, as for fixtures_h36m


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp_name(stem: str, suffix: str, pid: int, tag: str | None = None, rand: str = "abcd1234") -> str:
    return f".{stem}{TEMP_MARKER}{tag or writer_tag()}-{pid}-{rand}{suffix}"


def _write(path: Path, size: int, age_s: float = 0.0) -> Path:
    path.write_bytes(b"x" * size)
    if age_s:
        t = time.time() - age_s
        os.utime(path, (t, t))
    return path


# ------------------------------------------------------------------------------------------- A: temporaries


def test_only_temporaries_of_dead_writers_are_removed(tmp_path):
    day = 24 * 3600
    other_tag = "0" * 8 if writer_tag() != "0" * 8 else "1" * 8
    (tmp_path / "last.pt").write_bytes(b"good")
    (tmp_path / "notes.txt").write_text("keep")
    dead = _write(tmp_path / _temp_name("last", ".pt", _dead_pid()), 1000)
    live = _write(tmp_path / _temp_name("last", ".pt", os.getpid(), rand="live0000"), 300)
    other_fresh = _write(tmp_path / _temp_name("last", ".pt", 4242, tag=other_tag, rand="other000"), 50)
    other_old = _write(tmp_path / _temp_name("best", ".pt", 4242, tag=other_tag, rand="other111"), 70, age_s=2 * day)
    legacy_old = _write(tmp_path / ".last.q8w7e6r5.pt", 20, age_s=2 * day)  # unmarked name of older versions
    legacy_fresh = _write(tmp_path / ".last.z9x8c7v6.pt", 30)
    unrelated = [_write(tmp_path / name, 5, age_s=2 * day) for name in (".keep", ".last.pt.swp", ".gone.a1b2c3d4.pt")]
    expected = {dead: 1000, other_old: 70, legacy_old: 20}
    if sys.platform.startswith("linux"):  # this pid was reused: our process started after the file was written
        expected[_write(tmp_path / _temp_name("last", ".pt", os.getpid(), rand="reused00"), 9, age_s=10 * day)] = 9

    removed = remove_stale_temporaries(tmp_path)

    assert {r.path: r.size for r in removed} == expected
    assert sum(r.size for r in removed) == sum(expected.values())
    assert "not running" in next(r.reason for r in removed if r.path == dead)
    for path in expected:
        assert not path.exists()
    for path in (live, other_fresh, legacy_fresh, *unrelated, tmp_path / "last.pt", tmp_path / "notes.txt"):
        assert path.exists(), path.name
    assert remove_stale_temporaries(tmp_path) == []
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_atomic_write_temp_is_marked_kept_while_writing_and_gone_after(tmp_path):
    target = tmp_path / "a.tar.gz"
    with atomic_write_path(target) as tmp:
        name = Path(tmp).name
        assert name.startswith(f".a.tar{TEMP_MARKER}{writer_tag()}-{os.getpid()}-") and name.endswith(".tar.gz")
        Path(tmp).write_bytes(b"data")
        assert remove_stale_temporaries(tmp_path) == []  # a live writer's file is never touched
        assert Path(tmp).exists()
    assert os.listdir(tmp_path) == ["a.tar.gz"] and target.read_bytes() == b"data"
    with pytest.raises(RuntimeError):
        with atomic_write_path(target) as tmp:
            Path(tmp).write_bytes(b"half")
            raise RuntimeError("failed mid-write")
    assert os.listdir(tmp_path) == ["a.tar.gz"] and target.read_bytes() == b"data"


def test_temporary_of_a_sigkilled_writer_is_found_and_removed(tmp_path):
    code = (
        "import sys, time\n"
        "from weakpose.io_utils import atomic_write_path\n"
        "with atomic_write_path(sys.argv[1]) as tmp:\n"
        "    open(tmp, 'wb').write(b'x' * 4096)\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "last.pt")], env=_env(), stdout=subprocess.PIPE, text=True
    )
    tmp = Path(proc.stdout.readline().strip())
    assert remove_stale_temporaries(tmp_path) == []  # still writing
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert tmp.exists()  # what a kill leaves behind
    removed = remove_stale_temporaries(tmp_path)
    assert [(r.path, r.size) for r in removed] == [(tmp, 4096)]
    assert os.listdir(tmp_path) == []


def test_trainer_start_removes_stale_temporaries_of_the_run_folder(tmp_path, caplog):
    out = tmp_path / "run"
    out.mkdir()
    stale = _write(out / _temp_name("last", ".pt", _dead_pid()), 2_000_000)
    live = _write(out / _temp_name("best", ".pt", os.getpid()), 10)
    with caplog.at_level(logging.WARNING, logger="weakpose.train"):
        Trainer(W.ToyTask(), W.make_config(out, max_steps=1), W.ToyData(16)).fit()
    assert not stale.exists() and live.exists()
    text = caplog.text
    assert "removed 1 temporary file(s)" in text and "2.0 MB" in text and stale.name in text
    assert {p.name for p in out.iterdir()} >= {"last.pt", "config.yaml", live.name}


# ------------------------------------------------------------------------------------------- B: run-folder lock


class ReadLock(Callback):
    def on_step_end(self, trainer, step, outputs):
        self.holder = json.loads((trainer.out_dir / LOCK_FILE_NAME).read_text())


def test_second_trainer_of_a_locked_run_folder_is_refused_until_release(tmp_path):
    out = tmp_path / "run"
    holder = RunFolderLock(out).acquire()  # a second open file description: flock conflicts even in-process
    try:
        with pytest.raises(RunFolderLockedError) as info:
            Trainer(W.ToyTask(), W.make_config(out, max_steps=2), W.ToyData(16)).fit()
    finally:
        holder.release()
    msg = str(info.value)
    assert f"pid {os.getpid()} on " in msg and str(out) in msg and "train.out_dir" in msg and "started " in msg
    assert "\n" not in msg and info.value.holder["pid"] == os.getpid()
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE_NAME]  # refused before writing anything

    reader = ReadLock()
    result = Trainer(W.ToyTask(), W.make_config(out, max_steps=2), W.ToyData(16), callbacks=[reader]).fit()
    assert result.step == 2 and load_checkpoint(out / "last.pt")["step"] == 2
    assert reader.holder["pid"] == os.getpid() and "command" in reader.holder  # the holder names itself
    assert (out / LOCK_FILE_NAME).read_text() == ""  # released, details cleared
    RunFolderLock(out).acquire().release()


class Boom(Callback):
    def on_step_end(self, trainer, step, outputs):
        raise RuntimeError("boom")


def test_lock_is_released_when_fit_raises(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        Trainer(W.ToyTask(), W.make_config(tmp_path, max_steps=2), W.ToyData(16), callbacks=[Boom()]).fit()
    with RunFolderLock(tmp_path) as lock:
        assert lock.held


def test_lock_held_by_another_process_is_named_and_freed_by_its_death(tmp_path):
    code = (
        "import sys, time\n"
        "from weakpose.train.run_lock import RunFolderLock\n"
        "RunFolderLock(sys.argv[1]).acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), "--marker-arg"], env=_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderLockedError, match=rf"pid {proc.pid} on .*--marker-arg"):
            Trainer(W.ToyTask(), W.make_config(tmp_path, max_steps=1), W.ToyData(16)).fit()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert str(proc.pid) in (tmp_path / LOCK_FILE_NAME).read_text()  # a dead holder's details remain...
    result = Trainer(W.ToyTask(), W.make_config(tmp_path, max_steps=1), W.ToyData(16)).fit()  # ...but bind no one
    assert result.step == 1


# ------------------------------------------------------------------------------------------- C: world sizes


@pytest.mark.parametrize(
    "n, bs, world, done, new_bs, new_world",
    [
        (40, 4, 2, 3, 8, 1),  # 2 x 4 -> 1 x 8: the same global batch, exact
        (40, 3, 2, 3, 4, 1),  # 18 consumed, new global batch 4: continue at 20, skip 2
        (41, 4, 1, 5, 3, 2),  # 1 -> 2 ranks, 41 samples padded to 42 for 2 ranks
        (30, 2, 3, 4, 5, 2),  # 24 consumed; the next boundary (30) is the epoch's end
        (64, 8, 2, 2, 16, 1),  # the 2 x 64 -> 1 x 128, scaled down
    ],
)
def test_resume_position_across_world_sizes_sees_every_sample_once(n, bs, world, done, new_bs, new_world):
    seed, epoch = 3, 1
    old = [ShardedSampler(n, seed=seed, rank=r, world_size=world) for r in range(world)]
    for s in old:
        s.set_epoch(epoch)
    consumed = [i for s in old for i in list(s)[: done * bs]]  # each rank's first `done` batches
    perm = epoch_permutation(n, seed, epoch).tolist()
    assert sorted(consumed) == sorted(perm[: done * bs * world])  # the ranks consumed a prefix of the epoch

    new_done = resume_batch_in_epoch(done, bs, world, new_bs, new_world)
    rest = []
    for r in range(new_world):
        s = ShardedSampler(n, seed=seed, rank=r, world_size=new_world)
        s.set_epoch(epoch)
        s.set_start(min(new_done * new_bs, s.shard_size))
        rest.append(list(s))
    shard = len(ShardedSampler(n, world_size=new_world))
    positions = [r + new_world * k for r in range(new_world) for k in range(shard - len(rest[r]), shard)]
    resumed = [i for part in rest for i in part]

    start = new_done * new_bs * new_world
    assert min(positions, default=start) == start  # every rank continues at the same global boundary
    padding = shard * new_world - n  # wrapped-round samples the sampler adds anyway, in any run
    counts = collections.Counter(consumed + resumed)
    assert sum(c - 1 for c in counts.values()) <= padding
    assert {i for i, c in counts.items() if c > 1} <= set(perm[:padding])
    skipped = set(range(n)) - set(counts)
    assert skipped == set(perm[done * bs * world : start])
    assert 0 <= start - done * bs * world < new_bs * new_world  # less than one new global batch


def test_trainer_resumes_a_two_rank_checkpoint_on_one_process_at_the_global_position(tmp_path):
    out = tmp_path / "run"
    Trainer(W.ToyTask(), W.make_config(out, batch_size=6, max_steps=2), W.ToyData(40)).fit()
    # Two steps of 1 x 6 consumed the same epoch positions (0..11) as two steps of 2 ranks x 3: make it say so.
    state = load_checkpoint(out / "last.pt")
    assert (state["epoch"], state["batch_in_epoch"]) == (0, 2)
    state.update(batch_size=3, world_size=2, rng=state["rng"] * 2, log_acc=state["log_acc"] * 2)
    save_checkpoint(state, out / "last.pt")

    task = W.ToyTask(record=True)
    with pytest.warns(UserWarning, match="3x2 -> 5x1"):
        Trainer(task, W.make_config(out, batch_size=5, max_steps=7), W.ToyData(40), resume=True).fit()
    perm = epoch_permutation(40, 7, 0).tolist()
    seen = [i for r in task.records for i in r["index"].tolist()]
    # 12 consumed; batches of 5 continue at 15 (ceil(12 / 5) = 3 batches), so 12..14 are skipped, none repeated.
    assert seen == perm[15:40]
    assert [r["step"] for r in task.records] == [2, 3, 4, 5, 6] and task.epochs_ended == [0]


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")
def test_resume_rounded_past_the_last_batch_starts_the_next_epoch(tmp_path):
    out = tmp_path / "run"
    Trainer(W.ToyTask(), W.make_config(out, batch_size=9, max_steps=4), W.ToyData(40)).fit()  # 36 of 40 consumed
    task = W.ToyTask(record=True)
    with pytest.warns(UserWarning, match="batch size/world size changed"):
        Trainer(task, W.make_config(out, batch_size=8, max_steps=6), W.ToyData(40), resume=True).fit()
    assert task.epochs_ended == [0]  # epoch 0 ends without a step (its rest < one batch of 8)
    seen = [i for r in task.records for i in r["index"].tolist()]
    assert seen == epoch_permutation(40, 7, 1).tolist()[:16]


# ------------------------------------------------------------------------------------------- D: clear errors


@dataclasses.dataclass
class ModelCfg:
    hidden: int = 16


@dataclasses.dataclass
class ExpCfg:
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    model: ModelCfg = dataclasses.field(default_factory=ModelCfg)


@dataclasses.dataclass
class OtherExpCfg:
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    model: ModelCfg = dataclasses.field(default_factory=ModelCfg)


class SizedTask(TrainTask):
    def __init__(self, hidden: int) -> None:
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(W.IN_DIM, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)

    def training_step(self, batch, step):
        loss = nn.functional.mse_loss(self.model(batch["x"]), batch["y"])
        self.optimizer_step(self.opt, loss)
        return {"loss": loss}


class EncDecTask(TrainTask):
    """Another script's task: other module names."""

    def __init__(self) -> None:
        self.encoder = nn.Linear(W.IN_DIM, 4)
        self.decoder = nn.Linear(4, 1)
        self.opt = torch.optim.SGD([*self.encoder.parameters(), *self.decoder.parameters()], lr=0.01)

    def training_step(self, batch, step):
        loss = nn.functional.mse_loss(self.decoder(self.encoder(batch["x"])), batch["y"])
        self.optimizer_step(self.opt, loss)
        return {"loss": loss}


def _exp(out: Path, hidden: int = 16, max_steps: int = 1, cls: type = ExpCfg):
    return cls(train=W.make_config(out, max_steps=max_steps), model=ModelCfg(hidden=hidden))


def _fit(task: TrainTask, cfg, resume=None):
    return Trainer(task, cfg, W.ToyData(16), resume=resume).fit()


def test_resume_with_another_model_size_names_file_and_changed_fields(tmp_path):
    _fit(SizedTask(16), _exp(tmp_path, 16))
    ckpt = tmp_path / "last.pt"
    with pytest.raises(CheckpointMismatchError) as info:
        _fit(SizedTask(8), _exp(tmp_path, 8, max_steps=2), resume=True)
    msg = str(info.value)
    assert msg.startswith(f"{ckpt} was written with a different config (model.hidden: 16 -> 8; ")
    assert "train.max_steps: 1 -> 2" in msg and msg.index("model.hidden") < msg.index("train.max_steps")
    assert "train.out_dir" in msg and "\n" not in msg and "size mismatch" not in msg
    assert info.value.path == ckpt and isinstance(info.value, ValueError)
    assert load_checkpoint(ckpt)["step"] == 1  # the refused resume wrote nothing
    assert _fit(SizedTask(16), _exp(tmp_path, 16, max_steps=2), resume=True).step == 2  # same config: fine


def test_resume_from_another_scripts_checkpoint_says_so(tmp_path):
    _fit(SizedTask(16), _exp(tmp_path))
    ckpt = tmp_path / "last.pt"
    state = load_checkpoint(ckpt)
    assert state["task_class"] == f"{__name__}:SizedTask" and state["config_class"] == f"{__name__}:ExpCfg"

    with pytest.raises(
        CheckpointMismatchError,
        match=r"written by a different task/script \(task .*:SizedTask, "
        r"this run's is .*:EncDecTask\)",
    ) as info:
        _fit(EncDecTask(), _exp(tmp_path), resume=True)
    assert str(info.value).startswith(str(ckpt))

    with pytest.raises(CheckpointMismatchError, match=r"different task/script \(config .*:ExpCfg, .*:OtherExpCfg\)"):
        _fit(SizedTask(16), _exp(tmp_path, cls=OtherExpCfg), resume=True)

    # A checkpoint from before the class names were stored: the module names give it away.
    del state["task_class"], state["config_class"]
    save_checkpoint(state, ckpt)
    with pytest.raises(CheckpointMismatchError) as info:
        _fit(EncDecTask(), _exp(tmp_path), resume=True)
    assert str(info.value) == (
        f"{ckpt} was written by a different task/script (checkpoint modules ['model'], this task's "
        "['decoder', 'encoder']); resume from a checkpoint of this script, or start a fresh run in another "
        "train.out_dir"
    )
    # ... or its config sections, when the weights do not fit either.
    with pytest.raises(
        CheckpointMismatchError,
        match=r"different task/script \(config sections \['model', 'train'\], "
        r"this run's \['batch_size', ",
    ):
        _fit(SizedTask(8), W.make_config(tmp_path, max_steps=2), resume=True)
