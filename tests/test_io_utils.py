import os
import stat

import pytest

from weakpose.io_utils import atomic_write_path, atomic_write_text


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "good")
    with pytest.raises(RuntimeError):
        with atomic_write_path(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "good"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]  # no temp file left behind


def test_atomic_write_uses_umask_permissions_and_keeps_suffix(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write_path(tmp_path / "a.npz") as tmp:
            assert tmp.endswith(".npz")
            open(tmp, "wb").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.npz").st_mode) == 0o644
