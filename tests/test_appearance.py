import numpy as np
import pytest

from weakpose.body.appearance import ClothingStyle, sample_clothing, vertex_colours
from weakpose.skeleton import SMPL24

S = SMPL24.index
STYLE = ClothingStyle(
    top=(1, 0, 0),
    bottom=(0, 0, 1),
    shoes=(0, 1, 0),
    skin=(0.9, 0.7, 0.6),
    hair=(0.1, 0.05, 0),
    long_sleeves=False,
    long_trousers=True,
    stripe_period=0.1,
    stripe_contrast=0.5,
)


def test_colours_follow_parts_sleeves_stripes_and_hair():
    joints = np.zeros((24, 3))
    joints[S("head")] = [0, 1.6, 0]
    parts = ["spine2", "spine2", "l_elbow", "r_knee", "l_foot", "l_hand", "head", "head"]
    verts = np.array(
        [
            [0, 1.225, 0],
            [0, 1.275, 0],
            [0.4, 1.4, 0],
            [0.1, 0.4, 0],
            [0.1, 0, 0.1],
            [0.7, 1.4, 0],
            [0, 1.6, 0.08],
            [0, 1.7, 0],
        ]
    )
    c = vertex_colours(verts, np.array([S(p) for p in parts]), joints, STYLE)
    # sin(2π·1.225/0.1) = sin(24.5π) = 1 > 0 -> darker stripe; 1.275 -> sin(25.5π) = -1 -> plain
    np.testing.assert_allclose(c[0], [0.5, 0, 0])
    np.testing.assert_allclose(c[1], [1, 0, 0])
    np.testing.assert_allclose(c[2], STYLE.skin)  # short sleeves: forearm is skin
    np.testing.assert_allclose(c[3], STYLE.bottom)  # long trousers cover the shin
    np.testing.assert_allclose(c[4], STYLE.shoes)
    np.testing.assert_allclose(c[5], STYLE.skin)
    np.testing.assert_allclose(c[6], STYLE.skin)  # the face (front of the head)
    np.testing.assert_allclose(c[7], STYLE.hair)  # the top of the head


def test_sampled_outfits_are_valid_and_differ_between_subjects():
    rng = np.random.default_rng(0)
    styles = [sample_clothing(rng, i, 7) for i in range(7)]
    tops = np.array([s.top for s in styles])
    assert tops.min() >= 0 and tops.max() <= 1
    dist = np.linalg.norm(tops[:, None] - tops[None], axis=-1)
    assert dist[np.triu_indices(7, 1)].min() > 0.05


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="0..23"):
        vertex_colours(np.zeros((2, 3)), np.array([0, 30]), np.zeros((24, 3)), STYLE)
