"""Body-model files: .npz and chumpy-style .pkl loading (without chumpy), validation errors, atomic save, and the
``convert-smpl`` command."""

from __future__ import annotations

import json
import os
import pickle
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from body_fixtures import make_smpl_sized_model, write_chumpy_pkl, write_npz

from weakpose.body import BodyModel
from weakpose.body.model_file import (
    BodyModelData,
    BodyModelFileError,
    MissingKeyError,
    load_body_model_file,
    main,
    save_body_model_file,
)

ARRAY_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f")


@pytest.fixture(scope="module")
def smpl(tmp_path_factory):
    root = tmp_path_factory.mktemp("body_file")
    arrays = make_smpl_sized_model(seed=1)
    return dict(
        root=root,
        arrays=arrays,
        npz=write_npz(arrays, root / "model.npz"),
        pkl=write_chumpy_pkl(arrays, root / "SMPL_NEUTRAL.pkl"),
    )


def _assert_same_model(data: BodyModelData, arrays):
    for key in ARRAY_KEYS:
        got = getattr(data, key)
        assert got.shape == arrays[key].shape and np.array_equal(got, arrays[key]), key
    assert data.J_regressor.dtype == np.float64 and data.f.dtype == np.int64
    assert data.parents[0] == -1 and np.array_equal(data.parents[1:], arrays["kintree_table"][0, 1:])


def test_load_npz_and_chumpy_pickle_without_chumpy(smpl):
    assert "chumpy" not in sys.modules  # the fake module existed only while the fixture pickled
    raw = smpl["pkl"].read_bytes()
    assert b"chumpy.ch\nCh" in raw and b"scipy.sparse.csc\ncsc_matrix" in raw and b"numpy.core.multiarray" in raw
    from_npz = load_body_model_file(smpl["npz"])
    from_pkl = load_body_model_file(smpl["pkl"])
    _assert_same_model(from_npz, smpl["arrays"])
    _assert_same_model(from_pkl, smpl["arrays"])
    assert np.array_equal(from_npz.J_regressor_h36m, smpl["arrays"]["J_regressor_h36m"])
    assert from_pkl.J_regressor_h36m is None
    assert from_pkl.num_vertices == 6890 and from_pkl.num_faces == 13776 and from_pkl.num_betas == 10
    assert "chumpy" not in sys.modules


def test_python3_protocol2_pickle_loads(smpl, tmp_path):
    path = write_chumpy_pkl(smpl["arrays"], tmp_path / "py3.pkl", python2_style=False)
    assert b"_codecs\nencode" in path.read_bytes()  # how Python 3 writes array buffers at protocol 2
    _assert_same_model(load_body_model_file(path), smpl["arrays"])


class _Sneaky:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pickle_with_foreign_globals_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Sneaky()}, protocol=2))
    with pytest.raises(BodyModelFileError, match=r"evil\.pkl: refusing to load .*getcwd"):
        load_body_model_file(path)


def test_save_round_trip_is_atomic_and_keeps_meta(smpl, tmp_path):
    data = load_body_model_file(smpl["npz"])
    data = replace(
        data,
        meta={"name": "generated", "licence": "test only"},
        vertex_colors=np.full((6890, 3), 0.5),
        part_labels=np.argmax(data.weights, axis=1),
    )
    out = tmp_path / "out" / "saved.npz"
    save_body_model_file(data, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["saved.npz"]  # no temporary left behind
    with np.load(out, allow_pickle=False) as npz:  # plain arrays only
        assert npz["kintree_table"][0, 0] == -1
        assert json.loads(str(npz["meta"])) == {"name": "generated", "licence": "test only"}
    back = load_body_model_file(out)
    _assert_same_model(back, smpl["arrays"])
    assert back.meta == {"name": "generated", "licence": "test only"}
    assert np.array_equal(back.part_labels, data.part_labels)
    assert np.array_equal(back.vertex_colors, data.vertex_colors)
    # A failing save leaves the previous file intact.
    bad = replace(data, weights=data.weights * 2)
    with pytest.raises(BodyModelFileError, match="weights"):
        save_body_model_file(bad, out)
    assert np.array_equal(load_body_model_file(out).weights, data.weights)


def test_convert_smpl_cli_round_trip(smpl, tmp_path, capsys):
    reg = np.random.default_rng(2).random((17, 6890))
    reg /= reg.sum(axis=1, keepdims=True)
    np.save(tmp_path / "J_regressor_h36m.npy", reg)
    out = tmp_path / "smpl.npz"
    rc = main([str(smpl["pkl"]), str(out), "--h36m-regressor", str(tmp_path / "J_regressor_h36m.npy")])
    assert rc == 0
    assert "6890 vertices" in capsys.readouterr().out
    data = load_body_model_file(out)
    _assert_same_model(data, smpl["arrays"])
    assert np.array_equal(data.J_regressor_h36m, reg)
    assert data.meta["converted_from"] == "SMPL_NEUTRAL.pkl"
    # The converted file drives a BodyModel whose H36M joints are the regressor applied to its mesh.
    model = BodyModel.from_file(out, dtype=torch.float64)
    res = model(body_pose=0.3 * torch.ones(1, 69, dtype=torch.float64))
    assert np.allclose(res.joints_h36m17[0].numpy(), reg @ res.vertices[0].numpy(), atol=1e-12)


def test_convert_smpl_cli_errors(smpl, tmp_path, capsys):
    assert main([str(tmp_path / "missing.pkl"), str(tmp_path / "o.npz")]) == 1
    assert "missing.pkl" in capsys.readouterr().err
    np.save(tmp_path / "short.npy", np.zeros((17, 100)))
    assert main([str(smpl["pkl"]), str(tmp_path / "o.npz"), "--h36m-regressor", str(tmp_path / "short.npy")]) == 1
    err = capsys.readouterr().err
    assert "short.npy" in err and "(17, 100)" in err and "(17, 6890)" in err
    assert not (tmp_path / "o.npz").exists()


# ---------------------------------------------------------------------------------------------------------------
# bad files


def _write_variant(smpl, tmp_path, name, **changes):
    arrays = dict(smpl["arrays"])
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_missing_key(smpl, tmp_path):
    path = _write_variant(smpl, tmp_path, "noweights.npz", weights=None)
    with pytest.raises(MissingKeyError, match=r"noweights\.npz: missing required key\(s\) \['weights'\]"):
        load_body_model_file(path)
    with pytest.raises(KeyError):  # also a KeyError for callers that catch those
        load_body_model_file(path)
    pkl = write_chumpy_pkl(smpl["arrays"], tmp_path / "noreg.pkl", drop_keys=("J_regressor",))
    with pytest.raises(MissingKeyError, match=r"noreg\.pkl: missing required key\(s\) \['J_regressor'\]"):
        load_body_model_file(pkl)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("shapedirs", lambda a: a["shapedirs"][..., 0], r"'shapedirs' has shape \(6890, 3\), expected"),
        (
            "posedirs",
            lambda a: a["posedirs"][..., :200],
            r"'posedirs' has shape \(6890, 3, 200\), expected \(6890, 3, 207\)",
        ),
        ("weights", lambda a: a["weights"].T, r"'weights' has shape \(24, 6890\), expected \(6890, 24\)"),
        (
            "J_regressor",
            lambda a: a["J_regressor"][:23],
            r"'J_regressor' has shape \(23, 6890\), expected \(24, 6890\)",
        ),
        (
            "v_template",
            lambda a: a["v_template"][:6000],
            r"'J_regressor' has shape \(24, 6890\), expected \(24, 6000\)",
        ),
        ("f", lambda a: a["f"][:, :2], r"'f' has shape \(13776, 2\), expected \(F, 3\)"),
        ("f", lambda a: a["f"].astype(np.int64) + 100, r"'f' .* outside 0\.\.6889"),
        ("kintree_table", lambda a: a["kintree_table"][:, ::-1], r"'kintree_table' row 0 gives joint 0 the parent"),
        ("J_regressor_h36m", lambda a: a["J_regressor_h36m"][:16], r"'J_regressor_h36m' has shape \(16, 6890\)"),
        ("weights", lambda a: a["weights"] * 1.1, r"'weights' .* rows must sum to 1"),
    ],
)
def test_wrong_shapes_and_values(smpl, tmp_path, key, value, message):
    path = _write_variant(smpl, tmp_path, "bad.npz", **{key: value(smpl["arrays"])})
    with pytest.raises(BodyModelFileError, match=r"bad\.npz: key " + message):
        load_body_model_file(path)


def test_nan_is_reported_with_its_index(smpl, tmp_path):
    v = smpl["arrays"]["v_template"].copy()
    v[17, 1] = np.nan
    path = _write_variant(smpl, tmp_path, "nan.npz", v_template=v)
    with pytest.raises(
        BodyModelFileError, match=r"nan\.npz: key 'v_template' .*1 non-finite values, first at index \(17, 1\)"
    ):
        load_body_model_file(path)


@pytest.mark.parametrize("which", ["npz", "pkl"])
def test_truncated_files(smpl, tmp_path, which):
    raw = smpl[which].read_bytes()
    path = tmp_path / f"cut.{which}"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BodyModelFileError, match=r"cut\.(npz|pkl): not a readable .*truncated or corrupt"):
        load_body_model_file(path)


def test_empty_missing_and_object_files(smpl, tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(BodyModelFileError, match="empty"):
        load_body_model_file(tmp_path / "empty.npz")
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        load_body_model_file(tmp_path / "nothere.npz")
    arrays = dict(smpl["arrays"])
    arrays["J_regressor"] = np.array({"sparse": True}, dtype=object)
    np.savez(tmp_path / "obj.npz", **arrays)
    with pytest.raises(BodyModelFileError, match=r"obj\.npz: key 'J_regressor' holds a pickled Python object"):
        load_body_model_file(tmp_path / "obj.npz")
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(BodyModelFileError, match="expected a dict"):
        load_body_model_file(path)


def test_chumpy_expression_without_value(smpl, tmp_path):
    from body_fixtures import _fake_chumpy

    with _fake_chumpy() as Ch:
        expression = Ch(None)
        del expression.x
        expression.a, expression.b = Ch(np.ones(3)), Ch(np.ones(3))  # e.g. a pickled "a + b" node
        data = dict(smpl["arrays"], weights=Ch(smpl["arrays"]["weights"]), J_extra=expression)
        bad = dict(data, v_template=expression)
        (tmp_path / "extra.pkl").write_bytes(pickle.dumps(data, protocol=2))
        (tmp_path / "expr.pkl").write_bytes(pickle.dumps(bad, protocol=2))
    # An expression under a key the format does not use is ignored; under a needed key it is reported.
    _assert_same_model(load_body_model_file(tmp_path / "extra.pkl"), smpl["arrays"])
    with pytest.raises(
        BodyModelFileError, match=r"expr\.pkl: key 'v_template' is a chumpy expression \(chumpy\.ch\.Ch\)"
    ):
        load_body_model_file(tmp_path / "expr.pkl")
