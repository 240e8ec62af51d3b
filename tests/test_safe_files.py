"""No data file runs code: crafted npz files (pickled ``__reduce__`` payloads) through every loader that reads them.

The payload touches a marker file; the test first proves it is live (``np.load(allow_pickle=True)`` runs it), then
that every weakpose loader refuses the file with an error naming it, and the marker never appears.
"""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from weakpose.cli import main as cli
from weakpose.data.h36m.loaders import load_h36m, load_videopose3d
from weakpose.data.h36m.readers import H36MFormatError, read_videopose3d_2d, read_videopose3d_3d
from weakpose.data.motion.cmu import build_cmu_motion_asset
from weakpose.safe_npz import NpzFileError, RefusedPickleError, load_npz, npz_value


class Payload:
    """Unpickling this calls os.system: what a malicious download would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _object(value) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = value
    return out


GOOD_META = {
    "layout_name": "h36m",
    "num_joints": 17,
    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
}


@pytest.fixture
def crafted(tmp_path, rng):
    """Files whose positions_3d, positions_2d or only metadata hold the payload, and a raw pickle named .npz."""
    marker = tmp_path / "PWNED"
    good_3d = {"S9": {"Walking": rng.uniform(-1, 1, (6, 17, 3)).astype(np.float32)}}
    good_2d = {"S9": {"Walking": [rng.uniform(0, 1000, (6, 17, 2)).astype(np.float32)] * 4}}
    files = {}
    files["3d"] = tmp_path / "evil_3d.npz"
    np.savez(files["3d"], positions_3d=_object({"S9": {"Walking": Payload(marker)}}))
    files["2d"] = tmp_path / "evil_2d.npz"
    np.savez(files["2d"], positions_2d=_object({"S9": {"Walking": [Payload(marker)]}}), metadata=_object(GOOD_META))
    files["meta"] = tmp_path / "evil_meta.npz"
    np.savez(files["meta"], positions_2d=_object(good_2d), metadata=_object({**GOOD_META, "x": Payload(marker)}))
    files["raw"] = tmp_path / "raw_pickle.npz"
    files["raw"].write_bytes(pickle.dumps(Payload(marker)))
    good = tmp_path / "good_3d.npz"
    np.savez(good, positions_3d=_object(good_3d))
    # the payload is live: NumPy's own loader runs it
    with np.load(files["meta"], allow_pickle=True) as z:
        z["metadata"]
    assert marker.exists()
    marker.unlink()
    return files, good, marker


def test_crafted_files_are_refused_by_every_loader_and_run_nothing(crafted, tmp_path, capsys):
    from weakpose.lifters import save_lifter
    from weakpose.models import MLPLifter

    files, good, marker = crafted
    ckpt = save_lifter(
        tmp_path / "lifter.pt",
        MLPLifter(width=16, num_blocks=1, dropout=0.0),
        "mlp",
        {"width": 16, "num_blocks": 1, "dropout": 0.0},
    )
    for kind, path in files.items():
        name = path.name
        with pytest.raises((NpzFileError, H36MFormatError), match=name):
            load_npz(path)
        reader = read_videopose3d_3d if kind == "3d" else read_videopose3d_2d
        with pytest.raises(H36MFormatError, match=name):
            reader(path)
        if kind == "3d" or kind == "raw":
            with pytest.raises(H36MFormatError, match=name):
                load_videopose3d(path)
            with pytest.raises(H36MFormatError, match=name):
                load_h36m(path)
        if kind != "3d":
            with pytest.raises(H36MFormatError, match=name):
                load_videopose3d(path_2d=path)
            with pytest.raises(H36MFormatError, match=name):
                load_h36m(good, path_2d=path)
        # the commands people run on downloaded files: one line naming the file, exit 2
        capsys.readouterr()
        assert (
            cli(
                [
                    "lift",
                    "--checkpoint",
                    str(ckpt),
                    "--keypoints",
                    str(path),
                    "--gif",
                    "",
                    "--out",
                    str(tmp_path / "o.npz"),
                ]
            )
            == 2
        )
        assert name in capsys.readouterr().err
        assert (
            cli(
                [
                    "evaluate",
                    "--checkpoint",
                    str(ckpt),
                    "--data3d",
                    str(path if kind in ("3d", "raw") else good),
                    "--data2d",
                    str(good if kind in ("3d", "raw") else path),
                ]
            )
            == 2
        )
        assert name in capsys.readouterr().err
    # the CMU asset builder (tools/build_cmu_asset.py) reads a file of the same kind
    cmu = tmp_path / "cmu_evil.npz"
    np.savez(
        cmu,
        positions_3d=_object({"walk": {"01": Payload(marker)}}),
        fps=np.array(120.0),
        floor_z=_object({"walk": {"01": 0.0}}),
    )
    with pytest.raises(NpzFileError, match=r"cmu_evil\.npz"):
        build_cmu_motion_asset(cmu, tmp_path / "asset.npz")
    assert not marker.exists()
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "asset.npz").exists()


def test_refusal_names_file_key_and_global(crafted):
    files, _, marker = crafted
    with pytest.raises(RefusedPickleError, match=r"evil_meta\.npz \[key 'metadata'\].*(posix|os)\.system") as err:
        load_npz(files["meta"])
    assert err.value.global_name in ("posix.system", "os.system", "nt.system")
    with pytest.raises(NpzFileError, match=r"raw_pickle\.npz: not an \.npz file \(a Python pickle"):
        load_npz(files["raw"])
    assert not marker.exists()


def test_image_renderer_keypoint_dir_refuses_crafted_tracks(crafted, tmp_path):
    from weakpose.data.synthetic.images import SyntheticImageConfig, _load_tracks
    from weakpose.data.synthetic.keypoints import DATA_2D_NAME, DATA_3D_NAME

    files, _, marker = crafted
    kp = tmp_path / "kp"
    kp.mkdir()
    (kp / DATA_3D_NAME).write_bytes(files["3d"].read_bytes())
    (kp / DATA_2D_NAME).write_bytes(files["meta"].read_bytes())
    with pytest.raises(H36MFormatError, match=DATA_3D_NAME):
        _load_tracks(SyntheticImageConfig(keypoint_dir=str(kp)), tmp_path / "out")
    assert not marker.exists()


def test_safe_reader_equals_numpy_on_real_layouts(tmp_path, rng):
    """Legitimate files read exactly as np.load(allow_pickle=True) reads them: nested dicts, lists with None,
    NumPy scalars in metadata, plain arrays, strings; and pickles naming NumPy 1.x's numpy.core modules."""
    positions = {
        "S1": {"Walking 1": rng.standard_normal((5, 32, 3)).astype(np.float32)},
        "clip.mp4": {"custom": [rng.standard_normal((4, 17, 3)), None]},
    }
    metadata = {
        **GOOD_META,
        "video_metadata": {"clip.mp4": {"w": np.int64(1920), "h": 1080}},
        "fps": np.float64(50.0),
        "names": ("a", b"b"),
        "set": {1, 2},
    }
    path = tmp_path / "ok.npz"
    np.savez_compressed(
        path,
        positions_2d=_object(positions),
        metadata=_object(metadata),
        plain=np.arange(6.0),
        names=np.array(["x", "yy"]),
    )
    ours = load_npz(path)
    with np.load(path, allow_pickle=True) as z:
        ref = {k: (z[k].item() if z[k].dtype == object else z[k]) for k in z.files}
    assert sorted(ours) == sorted(ref)
    np.testing.assert_array_equal(ours["positions_2d"]["S1"]["Walking 1"], positions["S1"]["Walking 1"])
    np.testing.assert_array_equal(ours["positions_2d"]["clip.mp4"]["custom"][0], positions["clip.mp4"]["custom"][0])
    assert ours["positions_2d"]["clip.mp4"]["custom"][1] is None
    assert ours["metadata"] == ref["metadata"]
    np.testing.assert_array_equal(ours["plain"], ref["plain"])
    np.testing.assert_array_equal(ours["names"], ref["names"])

    # A pickle written by NumPy 1.x names numpy.core.multiarray; protocol 2 spells globals as text.
    arr = _object({"a": rng.standard_normal((3, 2))})
    body = pickle.dumps(arr, protocol=2).replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray" in body
    old = tmp_path / "old.npz"
    np.savez(old, positions_3d=arr)
    import zipfile

    with zipfile.ZipFile(old) as zf:
        raw = zf.read("positions_3d.npy")
    header_len = raw.index(b"\n") + 1  # npy header ends with a newline before the pickle
    with zipfile.ZipFile(old, "w") as zf:
        zf.writestr("positions_3d.npy", raw[:header_len] + body)
    np.testing.assert_array_equal(npz_value(old, "positions_3d")["a"], arr.item()["a"])


def test_npy_and_truncated_files_get_one_clear_error(tmp_path, rng):
    npy = tmp_path / "keypoints.npy"
    np.save(npy, rng.standard_normal((4, 17, 2)))
    with pytest.raises(H36MFormatError, match=r"keypoints\.npy: is a \.npy file"):
        read_videopose3d_2d(npy)
    full = tmp_path / "full.npz"
    np.savez(full, positions_3d=_object({"S1": {"W": rng.standard_normal((300, 17, 3))}}))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(H36MFormatError, match=r"cut\.npz"):
        read_videopose3d_3d(cut)


def test_every_npz_reader_refuses_npy_and_pickles_in_one_line(tmp_path, crafted):
    """SMPL parameter files and image-layout annotations: a .npy or a pickle where an .npz belongs."""
    from weakpose.data.datasets.multiview import load_annotation
    from weakpose.data.smpl_params import load_smpl_npz

    files, _, marker = crafted
    npy = tmp_path / "poses.npy"
    np.save(npy, np.zeros((4, 72)))
    with pytest.raises(NpzFileError, match=r"poses\.npy: is a \.npy file"):
        load_smpl_npz(npy)
    with pytest.raises(ValueError, match=r"poses\.npy.*is a \.npy file"):
        load_annotation(npy)
    evil = tmp_path / "amass_evil.npz"
    np.savez(evil, poses=_object(Payload(marker)), betas=np.zeros(10))
    with pytest.raises(NpzFileError, match=r"amass_evil\.npz \[key 'poses'\]: refused"):
        load_smpl_npz(evil)
    with pytest.raises(NpzFileError, match=r"raw_pickle\.npz: not an \.npz file"):
        load_smpl_npz(files["raw"])
    assert not marker.exists()
