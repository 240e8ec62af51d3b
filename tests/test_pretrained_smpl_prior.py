"""The shipped SMPL-parameter prior (weakpose/pretrained/weights/smpl_prior.pt): a plain-tensor file, deterministic,
its card figures reproduced on the stored held-out slice and on the whole held-out split, and an independent check
that it ranks real held-out bodies above broken copies built here with scipy."""

import math
import re

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

import weakpose.pretrained as pretrained
from weakpose.data.smpl_params import embedded_smpl_params, embedded_tracks
from weakpose.pretrained import pretrained_path, slice_path
from weakpose.priors.smpl_critic import FILE_FORMAT, SMPLCritic
from weakpose.recipes.smpl_prior import (
    ACKNOWLEDGEMENT,
    VAL_SEQUENCES,
    evaluate_smpl_prior,
    load_smpl_prior_slice,
    smpl_prior_params,
)
from weakpose.recipes.split import HELD_OUT_SEQUENCES
from weakpose.skeleton import SMPL24

torch.set_num_threads(1)

FRACTION_TOL = 0.005  # half a percentage point
SCORE_TOL = 1e-3


@pytest.fixture(scope="module")
def payload():
    return torch.load(pretrained_path("smpl_prior"), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def prior():
    return SMPLCritic.pretrained()


@pytest.fixture(scope="module")
def stored_slice():
    return load_smpl_prior_slice()


def _assert_figures_close(got, want):
    assert set(got) == set(want)
    for k, v in want.items():
        if k == "frames":
            assert got[k] == v
        elif k.startswith("real_above_"):
            assert abs(got[k] - v) <= FRACTION_TOL, (k, got[k], v)
        else:
            assert abs(got[k] - v) <= SCORE_TOL, (k, got[k], v)


def test_shipped_file_is_plain_tensors_with_a_model_card(payload):
    path = pretrained_path("smpl_prior")
    assert path.stat().st_size <= 5_000_000
    assert payload["format"] == FILE_FORMAT
    assert payload["config"] == {"num_betas": 10, "joint_width": 32, "full_width": 1024}
    state = payload["state_dict"]
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    assert all(bool(torch.isfinite(v).all()) for v in state.values())
    meta = payload["meta"]
    assert meta["acknowledgement"] == ACKNOWLEDGEMENT
    assert "mocap.cs.cmu.edu" in meta["acknowledgement"] and "NSF EIA-0196217" in meta["acknowledgement"]
    assert meta["storage"] == "float16"
    assert meta["held_out_sequences"] == list(HELD_OUT_SEQUENCES)
    # selection never saw the held-out split
    assert not set(meta["validation_sequences"]) & set(HELD_OUT_SEQUENCES)
    assert meta["validation_sequences"] == list(VAL_SEQUENCES)
    for key in (
        "data",
        "augmentation",
        "protocol",
        "figures",
        "slice_figures",
        "train_frames",
        "steps",
        "seconds",
        "torch",
    ):
        assert key in meta, key
    # half-precision storage was kept only because it moves no held-out fraction by more than a point
    f32, f16 = meta["figures_float32"], meta["figures_float16"]
    assert meta["figures"] == f16
    assert max(abs(f32[k] - f16[k]) for k in f32 if k.startswith("real_above_")) <= 0.01


def test_pretrained_loads_frozen_float32_and_scores_deterministically(payload, stored_slice):
    a, b = SMPLCritic.pretrained(), SMPLCritic.pretrained()
    for name, p in a.named_parameters():
        assert p.dtype == torch.float32 and not p.requires_grad
        assert torch.equal(p, payload["state_dict"][name].float())  # float16 values carried exactly
    assert not a.training and a.meta == payload["meta"]
    params, _, _ = stored_slice
    x, betas = torch.from_numpy(params.body_pose), torch.from_numpy(params.betas)
    out_a, out_b = a(x, betas), b(x, betas)
    assert out_a.shape == (len(params), 25)
    assert torch.equal(out_a, out_b)
    assert torch.equal(a.score(x, betas), a.score(x, betas))


def test_reproduces_the_card_on_the_stored_slice(prior, stored_slice):
    params, stored_figures, seed = stored_slice
    assert slice_path("smpl_prior").stat().st_size <= 300_000
    assert len(params) == prior.meta["slice_frames"] == 256
    assert set(params.sequences) == set(HELD_OUT_SEQUENCES)
    assert stored_figures == {k: v for k, v in prior.meta["slice_figures"].items() if isinstance(v, float)}
    _assert_figures_close(evaluate_smpl_prior(prior, params, seed=seed), prior.meta["slice_figures"])


def test_reproduces_the_card_on_the_whole_held_out_split(prior):
    held = smpl_prior_params("held_out", seed=prior.meta["seed"])
    assert len(held) == prior.meta["held_out_frames"]
    _assert_figures_close(evaluate_smpl_prior(prior, held), prior.meta["figures"])


def test_real_held_out_bodies_score_above_broken_copies_built_independently(prior, stored_slice):
    params, _, _ = stored_slice
    n = len(params)
    rot = Rotation.from_rotvec(params.body_pose.reshape(-1, 3).astype(np.float64)).as_matrix().reshape(n, 23, 3, 3)
    betas = torch.from_numpy(params.betas)

    def score(r):  # mean of the 25 outputs, straight from forward
        with torch.no_grad():
            return prior(torch.from_numpy(np.ascontiguousarray(r, dtype=np.float32)), betas).mean(1).numpy()

    real = score(rot)
    np.testing.assert_allclose(real.mean(), prior.meta["slice_figures"]["real_score_mean"], atol=1e-4)
    knees = rot.copy()  # both knees bent 90° the wrong way: R_x(-90°) (SMPL knees flex about +x)
    bent = Rotation.from_rotvec([-math.pi / 2, 0.0, 0.0]).as_matrix()
    for joint in ("l_knee", "r_knee"):
        knees[:, SMPL24.index(joint) - 1] = bent
    random = Rotation.random(n * 23, random_state=7).as_matrix().reshape(n, 23, 3, 3)
    above_knees = float((real > score(knees)).mean())
    above_random = float((real > score(random)).mean())
    assert above_knees >= 0.95, above_knees
    assert above_random >= 0.95, above_random


def test_v01_name_smpl_discriminator_still_loads_the_shipped_critic(prior, stored_slice):
    from weakpose.priors import SMPLDiscriminator, lsgan_critic_loss, lsgan_discriminator_loss

    assert SMPLDiscriminator is SMPLCritic and lsgan_discriminator_loss is lsgan_critic_loss
    assert FILE_FORMAT == "weakpose.SMPLDiscriminator/1"  # the tag the shipped file and v0.1 files carry
    old = SMPLDiscriminator.pretrained()
    assert isinstance(old, SMPLCritic) and not old.training
    params, _, _ = stored_slice
    x, betas = torch.from_numpy(params.body_pose[:16]), torch.from_numpy(params.betas[:16])
    assert torch.equal(old.score(x, betas), prior.score(x, betas))


def test_missing_file_names_the_path(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "smpl_prior.pt"))):
        SMPLCritic.pretrained()
    monkeypatch.undo()
    monkeypatch.setitem(pretrained.PRETRAINED_FILES, "smpl_prior", "no_such_prior.pt")
    with pytest.raises(FileNotFoundError, match="no_such_prior.pt"):
        SMPLCritic.pretrained()
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_smpl_prior_slice(tmp_path / "nothing.npz")


def test_embedded_smpl_params_takes_tracks():
    tracks = embedded_tracks()[:2]
    given = embedded_smpl_params(max_frames=5, seed=3, tracks=tracks)
    assert given.sequences == [label for label, _ in tracks]
    default = embedded_smpl_params(max_frames=5, seed=3)
    mine = default.select_sequences(given.sequences)  # same tracks, same per-sequence shapes -> same parameters
    np.testing.assert_allclose(mine.body_pose, given.body_pose, atol=1e-5)  # rest joints batched differently
    np.testing.assert_array_equal(mine.betas, given.betas)
    with pytest.raises(ValueError, match="bad"):
        embedded_smpl_params(tracks=[("bad", np.zeros((4, 16, 3)))])
    with pytest.raises(ValueError, match="empty"):
        embedded_smpl_params(tracks=[])
