"""3D/2D files written as one pair: a failed or killed write never leaves a mixed pair that the loaders accept."""

import shutil

import numpy as np
import pytest
from fixtures_h36m import make_poses_mm, write_martinez_3d

from weakpose.data.h36m import readers as h36m_readers
from weakpose.data.h36m.convert import convert_h36m_release
from weakpose.data.h36m.convert import main as convert_main
from weakpose.data.h36m.loaders import load_h36m, load_videopose3d
from weakpose.data.h36m.readers import (
    PAIR_ID_KEY,
    H36MFormatError,
    check_pair,
    read_pair_id,
    write_npz_pair,
)
from weakpose.data.synthetic.keypoints import ensure_synthetic, make_synthetic


def _tree(root, rng, frames):
    write_martinez_3d(root, "S9", "Walking 1", make_poses_mm(rng, frames))
    return root


def test_converter_resolves_cameras_before_writing_and_stamps_one_id(tmp_path, rng):
    out = tmp_path / "out"
    first = convert_h36m_release(_tree(tmp_path / "a", rng, 6), out)
    before = {p: p.read_bytes() for p in (first.path_3d, first.path_2d)}
    pair_id = read_pair_id(first.path_3d)
    assert pair_id is not None and read_pair_id(first.path_2d) == pair_id
    assert len(load_videopose3d(first.path_3d, first.path_2d)) == 1

    # A new release with a mistyped --cameras: refused before anything is written; the old pair is untouched.
    second_root = _tree(tmp_path / "b", rng, 9)
    assert convert_main(["--root", str(second_root), "--out", str(out), "--cameras", str(tmp_path / "typo.json")]) == 1
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in out.iterdir()) == ["data_2d_h36m_gt.npz", "data_3d_h36m.npz"]  # no temporaries

    # A failure while the 2D is being written leaves both old files in place.
    real = np.savez_compressed
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C between the two files
        return real(*args, **kwargs)

    h36m_readers.np.savez_compressed = failing
    try:
        with pytest.raises(KeyboardInterrupt):
            convert_h36m_release(second_root, out)
    finally:
        h36m_readers.np.savez_compressed = real
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in out.iterdir()) == ["data_2d_h36m_gt.npz", "data_3d_h36m.npz"]


def test_a_pair_with_one_file_replaced_alone_is_refused_naming_both(tmp_path, rng):
    a = convert_h36m_release(_tree(tmp_path / "a", rng, 6), tmp_path / "a_out")
    b = convert_h36m_release(_tree(tmp_path / "b", rng, 9), tmp_path / "b_out")
    # what a kill between the two renames leaves: the new 3D beside the old 2D
    shutil.copyfile(b.path_3d, a.path_3d)
    with pytest.raises(
        H36MFormatError,
        match=r"a_out/data_3d_h36m\.npz and .*a_out/data_2d_h36m_gt\.npz were "
        r"written by different runs",
    ):
        load_videopose3d(a.path_3d, a.path_2d)
    with pytest.raises(H36MFormatError, match="different runs"):
        load_h36m(a.path_3d, path_2d=a.path_2d)
    # files from other tools carry no id and pair as before
    plain = tmp_path / "plain_2d.npz"
    with np.load(a.path_2d, allow_pickle=False) as z:
        assert PAIR_ID_KEY in z.files
    positions, metadata = h36m_readers.read_videopose3d_2d(a.path_2d)
    np.savez(plain, positions_2d=np.array(positions, dtype=object), metadata=np.array(metadata, dtype=object))
    assert read_pair_id(plain) is None
    check_pair(a.path_3d, plain)
    assert len(load_videopose3d(a.path_3d, plain)) == 1


def test_write_npz_pair_stamps_and_round_trips(tmp_path):
    entries_3d = {"positions_3d": {"S1": {"Walking": np.ones((2, 17, 3), np.float32)}}}
    entries_2d = {
        "positions_2d": {"S1": {"Walking": [np.zeros((2, 17, 2), np.float32)]}},
        "metadata": {"layout_name": "h36m"},
    }
    pid = write_npz_pair(tmp_path / "d3.npz", entries_3d, tmp_path / "d2.npz", entries_2d)
    with np.load(tmp_path / "d3.npz", allow_pickle=True) as z:
        assert str(z[PAIR_ID_KEY]) == pid and z[PAIR_ID_KEY].dtype.kind == "U"  # a plain string, no pickle
        np.testing.assert_array_equal(z["positions_3d"].item()["S1"]["Walking"], 1.0)
    assert read_pair_id(tmp_path / "d2.npz") == pid
    assert write_npz_pair(tmp_path / "d3.npz", entries_3d, tmp_path / "d2.npz", entries_2d) != pid


def test_ensure_synthetic_regenerates_an_interrupted_pair(tmp_path):
    small = dict(max_frames=12, include_bvh=False, actions=["Walking"])
    paths = make_synthetic(tmp_path / "syn", **small)
    other = make_synthetic(tmp_path / "other", seed=7, **small)
    shutil.copyfile(other.data_3d, paths.data_3d)  # the 3D of another generation beside this 2D
    with pytest.raises(H36MFormatError, match="different runs"):
        check_pair(paths.data_3d, paths.data_2d)
    again = ensure_synthetic(tmp_path / "syn", **small)
    check_pair(again.data_3d, again.data_2d)
    assert read_pair_id(again.data_3d) not in (read_pair_id(other.data_3d), None)


def test_converters_remove_temporaries_of_killed_runs_and_keep_live_ones(tmp_path, rng):
    """A converter killed mid-write leaves its temporary; the next run on the folder removes it (its writer is
    gone) but never a live writer's."""
    import os
    import subprocess
    import sys

    from weakpose.io_utils import TEMP_MARKER, writer_tag

    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = out / f".data_3d_h36m{TEMP_MARKER}{writer_tag()}-{proc.pid}-abcd1234.npz"
    live = out / f".data_2d_h36m_gt{TEMP_MARKER}{writer_tag()}-{os.getpid()}-live0000.npz"
    dead.write_bytes(b"partial" * 1000)
    live.write_bytes(b"in progress")
    result = convert_h36m_release(_tree(tmp_path / "a", rng, 6), out)
    assert not dead.exists() and live.exists()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        result.path_2d.name,
        result.path_3d.name,
    ]
