import numpy as np
import pytest
import torch

from weakpose import skeleton as sk


def test_orders_are_consistent_trees():
    for order in sk.ORDERS.values():
        roots = [j for j, p in enumerate(order.parents) if p < 0]
        assert len(roots) == 1, order.name
        perm = order.flip_permutation
        np.testing.assert_array_equal(perm[perm], np.arange(order.num_joints))  # an involution
        for l, r in zip(order.left, order.right):  # mirrored names really are mirrored
            a, b = order.joints[l].lower(), order.joints[r].lower()
            a = a.replace("left", "") if "left" in a else a.replace("l", "", 1)
            b = b.replace("right", "") if "right" in b else b.replace("r", "", 1)
            assert a == b, (order.name, a, b)


def test_h36m17_parents_match_formats_doc():
    assert sk.H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert sk.H36M17.left == (4, 5, 6, 11, 12, 13) and sk.H36M17.right == (1, 2, 3, 14, 15, 16)


def test_h36m32_to_17_selects_documented_joints_and_names_agree():
    x = np.arange(32 * 3, dtype=np.float32).reshape(32, 3)
    y = sk.h36m32_to_17(x)
    np.testing.assert_array_equal(y[11], x[17])  # LShoulder is raw joint 17
    np.testing.assert_array_equal(y[9], x[14])
    # Parents in 17 follow the raw tree, except the shoulders which re-parent from the clavicles to the thorax.
    raw = list(sk.H36M32_TO_17)
    for j17, p17 in enumerate(sk.H36M17.parents):
        if p17 < 0 or j17 in (11, 14):
            continue
        anc = sk.H36M32.parents[raw[j17]]
        while anc not in raw:  # dropped raw joints (e.g. raw Spine 11) sit between kept ones
            anc = sk.H36M32.parents[anc]
        assert anc == raw[p17]
    with pytest.raises(ValueError, match=r"\(\.\.\., 32, D\).*\(17, 3\)"):
        sk.h36m32_to_17(np.zeros((17, 3)))


def test_mpii16_to_h36m17_maps_by_raw_index_and_derives_neck():
    rng = np.random.default_rng(1)
    raw32 = rng.normal(size=(5, 32, 2))
    mpii = raw32[:, sk.MPII16_TO_H36M32]
    conf = rng.uniform(size=(5, 16))
    x17, c17 = sk.mpii16_to_h36m17(mpii, conf)
    expect = sk.h36m32_to_17(raw32)
    for j in range(17):
        if j == 9:
            np.testing.assert_allclose(x17[:, 9], 0.5 * (expect[:, 8] + expect[:, 10]))
            np.testing.assert_allclose(c17[:, 9], np.minimum(conf[:, 8], conf[:, 9]))
        else:
            np.testing.assert_allclose(x17[:, j], expect[:, j])
    assert c17[:, 0].tolist() == conf[:, 6].tolist()  # Hip is MPII index 6


def _coco_from_h36m(p17):
    """Place COCO points on a known H36M-17 body: the inverse of the documented derivations."""
    c = np.zeros(p17.shape[:-2] + (17, p17.shape[-1]))
    name = sk.COCO17.index
    for coco, h in [
        ("r_hip", 1),
        ("r_knee", 2),
        ("r_ankle", 3),
        ("l_hip", 4),
        ("l_knee", 5),
        ("l_ankle", 6),
        ("nose", 9),
        ("l_shoulder", 11),
        ("l_elbow", 12),
        ("l_wrist", 13),
        ("r_shoulder", 14),
        ("r_elbow", 15),
        ("r_wrist", 16),
    ]:
        c[..., name(coco), :] = p17[..., h, :]
    thorax, head = p17[..., 8, :], p17[..., 10, :]
    ears = (head + 0.5 * thorax) / 1.5  # solves head = ears + 0.5 (ears - thorax)
    side = np.zeros_like(ears)
    side[..., 0] = 0.07
    c[..., name("l_ear"), :], c[..., name("r_ear"), :] = ears + side, ears - side
    c[..., name("l_eye"), :], c[..., name("r_eye"), :] = p17[..., 9, :] + side / 2, p17[..., 9, :] - side / 2
    return c


def test_coco17_to_h36m17_on_constructed_body():
    rng = np.random.default_rng(2)
    p17 = rng.normal(size=(4, 17, 3))
    # make the derived torso joints consistent with the COCO definitions
    p17[:, 0] = 0.5 * (p17[:, 1] + p17[:, 4])
    p17[:, 8] = 0.5 * (p17[:, 11] + p17[:, 14])
    p17[:, 7] = 0.5 * (p17[:, 0] + p17[:, 8])
    coco = _coco_from_h36m(p17)
    conf = rng.uniform(size=(4, 17))
    x17, c17 = sk.coco17_to_h36m17(coco, conf)
    np.testing.assert_allclose(x17, p17, atol=1e-12)
    n = sk.COCO17.index
    np.testing.assert_allclose(c17[:, 0], np.minimum(conf[:, n("l_hip")], conf[:, n("r_hip")]))
    np.testing.assert_allclose(c17[:, 16], conf[:, n("r_wrist")])
    np.testing.assert_allclose(
        c17[:, 7], np.min(conf[:, [n("l_hip"), n("r_hip"), n("l_shoulder"), n("r_shoulder")]], axis=1)
    )
    # torch gives the same
    xt, ct = sk.coco17_to_h36m17(torch.from_numpy(coco), torch.from_numpy(conf))
    np.testing.assert_allclose(xt.numpy(), x17)
    np.testing.assert_allclose(ct.numpy(), c17)
    with pytest.raises(ValueError, match="confidences"):
        sk.coco17_to_h36m17(coco, conf[:, :16])


def test_flip_is_mirror_and_involution():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 17, 3))
    f = sk.flip_joints(x)
    np.testing.assert_allclose(f[:, 4, 0], -x[:, 1, 0])  # LHip <- mirrored RHip
    np.testing.assert_allclose(f[:, 4, 1:], x[:, 1, 1:])
    np.testing.assert_allclose(sk.flip_joints(f), x)
    np.testing.assert_allclose(sk.bone_lengths(f), sk.bone_lengths(x)[..., sk.H36M17.flip_permutation[1:] - 1])
    t = sk.flip_joints(torch.from_numpy(x))
    np.testing.assert_allclose(t.numpy(), f)


def test_to_h36m17_dispatch_and_unknown_layout():
    x = np.zeros((2, 32, 2))
    y, c = sk.to_h36m17(x, "h36m32")
    assert y.shape == (2, 17, 2) and np.all(c == 1)
    with pytest.raises(KeyError, match="unknown joint layout"):
        sk.to_h36m17(x, "openpose25")
    assert sk.get_order("coco") is sk.COCO17
