"""2D keypoint files in the formats detectors write, read into H36M-17 pixels with missing joints filled.

Every file is written here from a known H36M-17 ground truth with the joint tables below, written out
independently of weakpose (docs/formats.md), so a wrong index or derivation in the readers shows as a wrong point.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from weakpose import skeleton as sk
from weakpose.data.h36m.loaders import load_videopose3d
from weakpose.data.h36m.readers import H36MFormatError
from weakpose.data.keypoint_files import fill_missing, read_keypoints, select_person, to_h36m17_filled

T = 12
# H36M-17 indices
HIP, RHIP, RKNEE, RFOOT, LHIP, LKNEE, LFOOT, SPINE, THORAX, NOSE, HEAD = range(11)
LSHO, LELB, LWRI, RSHO, RELB, RWRI = range(11, 17)
# COCO-17 index -> H36M-17 joint it is (ears and eyes are placed separately)
COCO_DIRECT = {
    0: NOSE,
    5: LSHO,
    6: RSHO,
    7: LELB,
    8: RELB,
    9: LWRI,
    10: RWRI,
    11: LHIP,
    12: RHIP,
    13: LKNEE,
    14: RKNEE,
    15: LFOOT,
    16: RFOOT,
}
# OpenPose BODY-25 index -> H36M-17 joint
BODY25_DIRECT = {
    0: NOSE,
    2: RSHO,
    3: RELB,
    4: RWRI,
    5: LSHO,
    6: LELB,
    7: LWRI,
    9: RHIP,
    10: RKNEE,
    11: RFOOT,
    12: LHIP,
    13: LKNEE,
    14: LFOOT,
}
EAR_SIDE = np.array([6.0, 0.0])


def ground_truth(rng, n=T):
    """(n, 17, 2) pixels of a moving person whose torso joints obey H36M's midpoint relations."""
    base = rng.uniform(-150, 150, (17, 2))
    t = np.arange(n)[:, None, None]
    p = base + np.array([960.0, 540.0]) + t * np.array([4.0, -1.5]) + 8 * np.sin(0.5 * t + np.arange(17)[:, None])
    p[:, HIP] = (p[:, RHIP] + p[:, LHIP]) / 2
    p[:, THORAX] = (p[:, LSHO] + p[:, RSHO]) / 2
    p[:, SPINE] = (p[:, HIP] + p[:, THORAX]) / 2
    return p


def ears_of(p):
    """Ear midpoint that puts the COCO head extrapolation (ears + 0.5 (ears - thorax)) on the H36M head."""
    return (p[:, HEAD] + 0.5 * p[:, THORAX]) / 1.5


def coco_of(p):
    c = np.zeros((len(p), 17, 2))
    for i, j in COCO_DIRECT.items():
        c[:, i] = p[:, j]
    c[:, 3], c[:, 4] = ears_of(p) + EAR_SIDE, ears_of(p) - EAR_SIDE
    c[:, 1], c[:, 2] = p[:, NOSE] + [4, -3], p[:, NOSE] + [-4, -3]
    return c


def halpe_of(p):
    h = np.zeros((len(p), 26, 2))
    h[:, :17] = coco_of(p)
    h[:, 3:5] += [0.0, 20.0]  # ears away from the COCO extrapolation: Halpe's head top must be used instead
    h[:, 17] = p[:, HEAD]
    h[:, 18] = p[:, THORAX] + [0, -40]  # a neck that is not the thorax: must not be used
    h[:, 19] = p[:, HIP] + [0, 15]  # a mid-hip that is not the hips' midpoint: must not be used
    h[:, 20:26] = np.repeat(p[:, [LFOOT, RFOOT]], 3, axis=1) + 10
    return h


def body25_of(p):
    b = np.zeros((len(p), 25, 2))
    for i, j in BODY25_DIRECT.items():
        b[:, i] = p[:, j]
    b[:, 1] = p[:, THORAX] + [0, -40]
    b[:, 8] = p[:, HIP] + [0, 15]
    b[:, 15], b[:, 16] = p[:, NOSE] + [-4, -3], p[:, NOSE] + [4, -3]
    b[:, 17], b[:, 18] = ears_of(p) - EAR_SIDE, ears_of(p) + EAR_SIDE
    b[:, 19:25] = np.concatenate([np.repeat(p[:, [LFOOT]], 3, 1), np.repeat(p[:, [RFOOT]], 3, 1)], 1) + 10
    return b


def with_conf(xy, c=0.9):
    return np.concatenate([xy, np.full(xy.shape[:-1] + (1,), c)], -1)


def flat(kp):
    return np.asarray(kp, float).ravel().tolist()


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture
def gt(rng):
    return ground_truth(rng)


# ---------------------------------------------------------------------------------------------------------
# layouts and converters


def test_halpe26_and_body25_orders_are_registered():
    assert sk.get_order("halpe") is sk.HALPE26 and sk.get_order("body_25") is sk.BODY25
    assert sk.get_order("openpose") is sk.BODY25
    assert sk.HALPE26.joints[:17] == sk.COCO17.joints and sk.HALPE26.joints[17:20] == ("head", "neck", "hip")
    assert sk.BODY25.index("MidHip") == 8 and sk.BODY25.index("LHeel") == 21 and sk.BODY25.index("RHeel") == 24
    for order in (sk.HALPE26, sk.BODY25):
        assert order.flip_permutation[order.flip_permutation].tolist() == list(range(order.num_joints))


def test_converters_on_explicit_points():
    """One body with round numbers: every derived H36M-17 joint checked by hand."""
    coco = np.zeros((17, 2))
    named = {
        "nose": (100, 70),
        "l_eye": (104, 66),
        "r_eye": (96, 66),
        "l_ear": (108, 60),
        "r_ear": (92, 60),
        "l_shoulder": (120, 100),
        "r_shoulder": (80, 100),
        "l_elbow": (130, 130),
        "r_elbow": (70, 130),
        "l_wrist": (135, 160),
        "r_wrist": (65, 160),
        "l_hip": (110, 200),
        "r_hip": (90, 200),
        "l_knee": (112, 260),
        "r_knee": (88, 260),
        "l_ankle": (113, 320),
        "r_ankle": (87, 320),
    }
    for name, xy in named.items():
        coco[sk.COCO17.index(name)] = xy
    conf = np.linspace(0.2, 1.0, 17)
    x17, c17 = sk.coco17_to_h36m17(coco, conf)
    np.testing.assert_allclose(x17[HIP], [100, 200])  # mean of the hips (110, 200) and (90, 200)
    np.testing.assert_allclose(x17[THORAX], [100, 100])  # mean of the shoulders
    np.testing.assert_allclose(x17[SPINE], [100, 150])
    np.testing.assert_allclose(x17[NOSE], [100, 70])
    np.testing.assert_allclose(x17[HEAD], [100, 40])  # ears (100, 60) + 0.5 * ((100, 60) - (100, 100))
    np.testing.assert_allclose(x17[RFOOT], [87, 320])
    assert c17[HIP] == pytest.approx(min(conf[11], conf[12])) and c17[LWRI] == pytest.approx(conf[9])
    assert c17[HEAD] == pytest.approx(min(conf[3], conf[4], conf[5], conf[6]))

    halpe = np.zeros((26, 2))
    halpe[:17] = coco
    halpe[17], halpe[18], halpe[19] = (100, 35), (100, 90), (100, 210)  # head top, neck, mid-hip
    h17, hc = sk.halpe26_to_h36m17(halpe, np.ones(26))
    np.testing.assert_allclose(h17[HEAD], [100, 35])  # Halpe's head top is H36M's head
    np.testing.assert_allclose(h17[THORAX], [100, 100])  # mid-shoulders, not Halpe's neck (100, 90)
    np.testing.assert_allclose(h17[HIP], [100, 200])  # mid-hips, not Halpe's hip (100, 210)
    np.testing.assert_allclose(np.delete(h17, HEAD, 0), np.delete(x17, HEAD, 0))

    body = np.zeros((25, 2))
    op_names = {
        "Nose": "nose",
        "LEye": "l_eye",
        "REye": "r_eye",
        "LEar": "l_ear",
        "REar": "r_ear",
        "LShoulder": "l_shoulder",
        "RShoulder": "r_shoulder",
        "LElbow": "l_elbow",
        "RElbow": "r_elbow",
        "LWrist": "l_wrist",
        "RWrist": "r_wrist",
        "LHip": "l_hip",
        "RHip": "r_hip",
        "LKnee": "l_knee",
        "RKnee": "r_knee",
        "LAnkle": "l_ankle",
        "RAnkle": "r_ankle",
    }
    for op, coco_name in op_names.items():
        body[sk.BODY25.index(op)] = named[coco_name]
    body[sk.BODY25.index("Neck")], body[sk.BODY25.index("MidHip")] = (100, 90), (100, 210)
    b17, _ = sk.body25_to_h36m17(body)
    np.testing.assert_allclose(b17, x17)  # same derivation as COCO: OpenPose's Neck / MidHip are not used
    assert sk.to_h36m17(body, "openpose")[0].tolist() == b17.tolist()
    assert sk.to_h36m17(halpe, "halpe26")[0].tolist() == h17.tolist()


def test_converters_torch_matches_numpy_and_nan_propagates(gt, rng):
    for fn, src in ((sk.halpe26_to_h36m17, halpe_of(gt)), (sk.body25_to_h36m17, body25_of(gt))):
        conf = rng.uniform(0.1, 1, src.shape[:2])
        x, c = fn(src, conf)
        xt, ct = fn(torch.from_numpy(src), torch.from_numpy(conf))
        np.testing.assert_allclose(xt.numpy(), x)
        np.testing.assert_allclose(ct.numpy(), c)
    np.testing.assert_allclose(sk.body25_to_h36m17(body25_of(gt))[0], gt, atol=1e-9)
    np.testing.assert_allclose(sk.halpe26_to_h36m17(halpe_of(gt))[0], gt, atol=1e-9)
    coco = coco_of(gt)
    coco[2, 11] = np.nan  # l_hip missing: the hip, spine (derived from it) and l_hip are NaN, nothing else
    x17, _ = sk.coco17_to_h36m17(coco)
    assert sorted(np.flatnonzero(np.isnan(x17[2]).any(-1))) == [HIP, LHIP, SPINE]
    # one missing ear is stood in for by the other (a head in profile), with the visible ear's confidence
    coco = coco_of(gt)[:1]
    coco[0, 3] = np.nan
    conf = np.full((1, 17), 0.8)
    conf[0, 4] = 0.3
    x17, c17 = sk.coco17_to_h36m17(coco, conf)
    r_ear, thorax = coco[0, 4], gt[0, THORAX]
    np.testing.assert_allclose(x17[0, HEAD], r_ear + 0.5 * (r_ear - thorax))
    assert c17[0, HEAD] == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------------------------
# missing detections


def test_fill_missing_interpolates_holds_ends_and_counts(rng):
    xy = rng.uniform(100, 900, (10, 17, 2))
    conf = np.full((10, 17), 0.9)
    xy[3:5, 2] = np.nan  # a gap of two frames
    conf[7, 5] = 0.0  # zero confidence
    xy[0:2, 8] = 0.0  # (0, 0) at the start: held from frame 2
    xy[9, 16] = [np.inf, 1.0]  # at the end: held from frame 8
    xy[6] = 0.0  # a whole frame missing
    out = fill_missing(xy, conf, where="clip.json")
    frames = np.arange(10)
    for j, gap in ((2, [3, 4, 6]), (5, [6, 7])):
        seen = np.setdiff1d(frames, gap)
        for c in range(2):
            np.testing.assert_allclose(out.xy[gap, j, c], np.interp(gap, seen, xy[seen, j, c]), rtol=1e-6)
    np.testing.assert_allclose(out.xy[3, 2], xy[2, 2] + (xy[5, 2] - xy[2, 2]) / 3, rtol=1e-6)  # a third of the way
    np.testing.assert_allclose(out.xy[0:2, 8], xy[[2, 2], 8], rtol=1e-6)
    np.testing.assert_allclose(out.xy[9, 16], xy[8, 16], rtol=1e-6)
    np.testing.assert_allclose(out.xy[6, 0], (xy[5, 0] + xy[7, 0]) / 2, rtol=1e-6)
    assert out.xy.dtype == np.float32 and np.isfinite(out.xy).all()
    assert out.missing.sum() == out.joints_filled == 2 + 1 + 2 + 1 + 17
    assert (out.conf[out.missing] == 0).all() and (out.conf[~out.missing] == np.float32(0.9)).all()
    assert out.frames_filled == 7 and out.frames_missing == 1  # frames 0, 1, 3, 4, 6, 7, 9; frame 6 whole
    assert "frames" in out.summary()


def test_fill_missing_counts_frames_exactly():
    xy = np.full((5, 3, 2), 100.0) + np.arange(5)[:, None, None]
    xy[1, 0] = np.nan
    xy[3] = np.nan
    out = fill_missing(xy, joint_names=["a", "b", "c"])
    assert (out.joints_filled, out.frames_filled, out.frames_missing) == (4, 2, 1)
    np.testing.assert_allclose(out.xy[3], xy[[2, 4]].mean(0))


def test_fill_missing_refuses_empty_and_never_seen_joints():
    with pytest.raises(H36MFormatError, match=r"^clip\.mp4: no joint is detected in any of the 5 frames"):
        fill_missing(np.zeros((5, 17, 2)), where="clip.mp4")
    xy = np.full((5, 17, 2), 300.0)
    xy[:, HEAD] = np.nan
    with pytest.raises(H36MFormatError, match=r"clip\.mp4: joint 'Head' never detected in the 5 frames"):
        fill_missing(xy, where="clip.mp4")
    coco = np.full((5, 17, 2), 300.0) + np.arange(17)[:, None]
    coco[:, 3:5] = 0.0  # both ears never found: no head
    with pytest.raises(H36MFormatError, match=r"v\.npy: joint 'Head' never .*coco17 source: l_ear, r_ear\)$"):
        to_h36m17_filled(coco, None, "coco17", "v.npy")


# ---------------------------------------------------------------------------------------------------------
# COCO and AlphaPose JSON


def test_coco_results_two_people_keep_the_tracked_one(tmp_path, gt):
    coco = coco_of(gt)
    bystander = coco + [500.0, 40.0]
    entries = []
    for t in range(T):
        if t == 8:
            continue  # nobody detected: the results file has no entry for the image
        entries.append({"image_id": t, "category_id": 1, "keypoints": flat(with_conf(coco[t])), "score": 0.8})
        if 3 <= t <= 6:  # a bystander scoring a little better must not take over the track
            entries.append({"image_id": t, "category_id": 1, "keypoints": flat(with_conf(bystander[t])), "score": 0.95})
    entries.reverse()  # the file order is not the frame order
    kf = read_keypoints(write_json(tmp_path / "results.json", entries))
    assert kf.format == "coco-results" and list(kf) == ["results"]
    track = kf["results"]
    assert track.layout == "coco17" and track.frame_ids == list(range(T)) and track.image_size is None
    assert track.xy.shape == (T, 17, 2) and track.conf.shape == (T, 17)
    seen = [t for t in range(T) if t != 8]
    np.testing.assert_allclose(track.xy[seen], gt[seen], atol=1e-3)
    np.testing.assert_allclose(track.xy[8], (track.xy[7] + track.xy[9]) / 2, rtol=1e-6)
    assert (track.conf[8] == 0).all() and track.conf[0, HIP] == pytest.approx(0.9)
    assert (track.filled.joints_filled, track.filled.frames_filled, track.filled.frames_missing) == (17, 1, 1)
    # Hip = mean of the two hips written
    np.testing.assert_allclose(track.xy[0, HIP], (coco[0, 11] + coco[0, 12]) / 2, rtol=1e-6)


def test_person_selection_rule():
    near = np.zeros((3, 17, 3)) + [100.0, 100.0, 0.9]
    far = np.zeros((3, 17, 3)) + [800.0, 100.0, 0.9]
    kp = np.concatenate([near, far])
    frame = np.array([0, 1, 2, 0, 1, 2])
    # frame 0: best score; frame 1: the near one at 0.6 of the best is kept; frame 2: at 0.3 of the best it is not
    score = np.array([0.9, 0.6, 0.3, 0.5, 1.0, 1.0])
    picked = select_person(kp, frame, 4, score)
    assert picked[:3, 0, 0].tolist() == [100, 100, 800] and (picked[3] == 0).all()
    # without scores, the mean joint confidence decides
    kp[3:, :, 2] = 0.95
    assert select_person(kp, frame, 3)[0, 0, 0] == 800
    track = np.array([4, 4, 4, 9, 9, 9])
    assert (select_person(kp, frame, 3, score, track, person=4)[:, 0, 0] == 100).all()


def test_coco_annotation_file(tmp_path, gt):
    coco = coco_of(gt)
    images = [{"id": 100 + t, "file_name": f"{t:06d}.jpg", "width": 1000, "height": 1002} for t in range(T)]
    annotations = []
    for t in range(T):
        if t == 4:
            continue  # an image without a person
        kp = np.concatenate([coco[t], np.full((17, 1), 2.0)], -1)
        kp[:, 2][[1, 2]] = 1  # labelled but hidden: still a point
        if t == 6:
            kp[15] = 0  # l_ankle not labelled: (0, 0, 0)
        annotations.append({"id": t, "image_id": 100 + t, "category_id": 1, "keypoints": flat(kp), "num_keypoints": 17})
    path = write_json(
        tmp_path / "person_keypoints_val.json",
        {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]},
    )
    kf = read_keypoints(path)
    track = kf["person_keypoints_val"]
    assert kf.format == "coco-annotations" and track.image_size == (1000, 1002)
    assert track.frame_ids == [100 + t for t in range(T)]
    ok = [t for t in range(T) if t != 4]
    np.testing.assert_allclose(np.delete(track.xy[ok], LFOOT, 1), np.delete(gt[ok], LFOOT, 1), atol=1e-3)
    np.testing.assert_allclose(track.xy[6, LFOOT], (gt[5, LFOOT] + gt[7, LFOOT]) / 2, rtol=1e-6)
    np.testing.assert_allclose(track.xy[4], (track.xy[3] + track.xy[5]) / 2, rtol=1e-6)
    assert track.conf[0].tolist() == [1.0] * 17 and track.conf[6, LFOOT] == 0
    assert track.filled.frames_missing == 1 and track.filled.joints_filled == 18


def test_alphapose_coco17_string_ids_and_track_ids(tmp_path, gt):
    coco = coco_of(gt)
    other = coco + [-300.0, 0.0]
    entries = []
    for t in range(T):  # "10.jpg" sorts before "2.jpg" as text: frames must sort by number
        for idx, kp, score in ((1, coco[t], 2.6), (2, other[t], 1.1)):  # AlphaPose scores can exceed 1
            entries.append(
                {
                    "image_id": f"{t}.jpg",
                    "category_id": 1,
                    "keypoints": flat(with_conf(kp, 0.7)),
                    "score": score,
                    "box": [0, 0, 10, 10],
                    "idx": idx,
                }
            )
    path = write_json(tmp_path / "alphapose-results.json", entries)
    kf = read_keypoints(path)
    assert kf.format == "alphapose"
    track = kf["alphapose-results"]
    assert track.frame_ids == [f"{t}.jpg" for t in range(T)]
    np.testing.assert_allclose(track.xy, gt, atol=1e-3)
    second = read_keypoints(path, person=2)["alphapose-results"]
    np.testing.assert_allclose(second.xy, gt + [-300.0, 0.0], atol=1e-3)
    with pytest.raises(H36MFormatError, match=r"alphapose-results\.json: no person with track id 7 .*\[1, 2\]"):
        read_keypoints(path, person=7)
    with pytest.raises(ValueError, match="person must be 'best' or a track id"):
        read_keypoints(path, person="all")


def test_alphapose_halpe26_and_136(tmp_path, gt, rng):
    halpe = halpe_of(gt)
    entries = [
        {
            "image_id": f"{t}.jpg",
            "category_id": 1,
            "keypoints": flat(with_conf(halpe[t])),
            "score": 1.0,
            "box": [0, 0, 1, 1],
            "idx": 1,
        }
        for t in range(T)
    ]
    track = read_keypoints(write_json(tmp_path / "halpe.json", entries))["halpe"]
    assert track.layout == "halpe26"
    np.testing.assert_allclose(track.xy, gt, atol=1e-3)
    np.testing.assert_allclose(track.xy[:, HEAD], halpe[:, 17], atol=1e-3)  # the head top, not the ears
    # Halpe-FullBody (136 points) starts with the 26 body points; face and hands are dropped
    extra = rng.uniform(0, 1000, (T, 110, 2))
    for t, e in enumerate(entries):
        e["keypoints"] = flat(with_conf(np.concatenate([halpe[t], extra[t]])))
    full = read_keypoints(write_json(tmp_path / "full.json", entries))["full"]
    np.testing.assert_array_equal(full.xy, track.xy)
    for e in entries:
        e["keypoints"] = e["keypoints"][: 3 * 20]
    with pytest.raises(H36MFormatError, match=r"bad\.json: 20 keypoints per person .*known counts"):
        read_keypoints(write_json(tmp_path / "bad.json", entries))


# ---------------------------------------------------------------------------------------------------------
# OpenPose


def write_openpose(folder, frames, prefix="clip"):
    folder.mkdir(exist_ok=True)
    for t, people in enumerate(frames):
        write_json(
            folder / f"{prefix}_{t:012d}_keypoints.json",
            {
                "version": 1.3,
                "people": [{"person_id": [-1], "pose_keypoints_2d": flat(p), "face_keypoints_2d": []} for p in people],
            },
        )
    return folder


def test_openpose_folder_body25_with_missing_frame_and_joints(tmp_path, gt):
    body = with_conf(body25_of(gt), 0.8)
    frames = [[body[t]] for t in range(T)]
    frames[5] = []  # nobody found
    frames[2][0] = frames[2][0].copy()
    frames[2][0][7] = 0  # LWrist not found: OpenPose writes (0, 0, 0)
    frames[0][0] = frames[0][0].copy()
    frames[0][0][10] = 0  # RKnee not found in the first frame: held from frame 1
    kf = read_keypoints(write_openpose(tmp_path / "op", frames))
    assert kf.format == "openpose" and list(kf) == ["clip"]
    track = kf["clip"]
    assert track.layout == "body25" and track.frame_ids == list(range(T))
    good = [t for t in range(T) if t not in (0, 2, 5)]
    np.testing.assert_allclose(track.xy[good], gt[good], atol=1e-3)
    detected = [t for t in range(T) if t != 5]  # Hip = mean of RHip (9) and LHip (12) as written
    np.testing.assert_allclose(track.xy[detected, HIP], (body[detected, 9, :2] + body[detected, 12, :2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(track.xy[5], (track.xy[4] + track.xy[6]) / 2, rtol=1e-6)
    seen = np.array([t for t in range(T) if t not in (2, 5)])
    for c in range(2):
        np.testing.assert_allclose(track.xy[2, LWRI, c], np.interp(2, seen, track.xy[seen, LWRI, c]), rtol=1e-6)
    np.testing.assert_allclose(track.xy[0, RKNEE], gt[1, RKNEE], atol=1e-3)
    f = track.filled
    assert (f.joints_filled, f.frames_filled, f.frames_missing) == (19, 3, 1)
    assert track.conf[2, LWRI] == 0 and track.conf[3, LWRI] == pytest.approx(0.8)


def test_openpose_refusals(tmp_path, gt):
    body = with_conf(body25_of(gt), 0.8)
    with pytest.raises(H36MFormatError, match=r"empty.*no joint is detected in any of the 3 frames"):
        read_keypoints(write_openpose(tmp_path / "empty", [[], [], []]))
    coco18 = [[with_conf(np.full((18, 2), 500.0))]]
    with pytest.raises(H36MFormatError, match=r"18 keypoints .*COCO-18.*BODY_25"):
        read_keypoints(write_openpose(tmp_path / "c18", coco18))
    one = write_openpose(tmp_path / "one", [[body[0]]])
    with pytest.raises(H36MFormatError, match="pass the folder"):
        read_keypoints(one / "clip_000000000000_keypoints.json")
    with pytest.raises(H36MFormatError, match="no OpenPose files"):
        (tmp_path / "none").mkdir()
        read_keypoints(tmp_path / "none")


# ---------------------------------------------------------------------------------------------------------
# VideoPose3D npz and plain arrays

COCO_SYMMETRY = [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]


def test_videopose3d_custom_with_and_without_metadata(tmp_path, gt):
    coco = with_conf(coco_of(gt), 0.7).astype(np.float32)
    meta = {
        "layout_name": "coco",
        "num_joints": 17,
        "keypoints_symmetry": COCO_SYMMETRY,
        "video_metadata": {"clip.mp4": {"w": 1920, "h": 1080}},
    }
    path = tmp_path / "data_2d_custom_clip.npz"
    np.savez_compressed(path, positions_2d={"clip.mp4": {"custom": [coco]}}, metadata=meta)
    kf = read_keypoints(path)
    track = kf["clip.mp4"]
    assert kf.format == "videopose3d" and track.image_size == (1920, 1080) and track.layout == "coco17"
    np.testing.assert_allclose(track.xy, gt, atol=1e-3)
    assert track.conf.dtype == np.float32 and track.conf[0, 0] == pytest.approx(0.7)

    bare = tmp_path / "bare.npz"
    np.savez_compressed(bare, positions_2d={"clip.mp4": {"custom": [coco]}})
    with pytest.raises(H36MFormatError, match=r"bare\.npz.*17 joints.*coco17.*h36m17"):
        read_keypoints(bare)
    np.testing.assert_allclose(read_keypoints(bare, layout="coco17")["clip.mp4"].xy, gt, atol=1e-3)
    halpe = tmp_path / "halpe.npz"
    np.savez_compressed(halpe, positions_2d={"clip.mp4": {"custom": [halpe_of(gt).astype(np.float32)]}})
    assert read_keypoints(halpe)["clip.mp4"].layout == "halpe26"  # 26 joints name one layout


def test_plain_arrays(tmp_path, gt):
    npy = tmp_path / "poses.npy"
    np.save(npy, gt.astype(np.float32))
    with pytest.raises(H36MFormatError, match=r"poses\.npy: 17 joints: pass layout='coco17' or layout='h36m17'"):
        read_keypoints(npy)
    track = read_keypoints(npy, layout="h36m17")["poses"]
    np.testing.assert_array_equal(track.xy, gt.astype(np.float32))
    assert track.filled.joints_filled == 0 and (track.conf == 1).all()
    with pytest.raises(H36MFormatError, match=r"layout 'coco17' has 17 joints, the array has 25"):
        np.save(tmp_path / "b.npy", body25_of(gt))
        read_keypoints(tmp_path / "b.npy", layout="coco17")

    kpts = tmp_path / "openpose_dump.npz"
    np.savez(kpts, kpts=with_conf(body25_of(gt)), fps=np.array(30.0))
    track = read_keypoints(kpts)["openpose_dump"]
    assert track.layout == "body25"
    np.testing.assert_allclose(track.xy, gt, atol=1e-3)
    single = tmp_path / "single.npz"
    np.savez(single, halpe_of(gt))  # arr_0
    np.testing.assert_allclose(read_keypoints(single)["single"].xy, gt, atol=1e-3)
    np.savez(tmp_path / "two.npz", a=gt, b=gt)
    with pytest.raises(H36MFormatError, match=r"two\.npz: no keypoint array.*\['a', 'b'\]"):
        read_keypoints(tmp_path / "two.npz")
    np.save(tmp_path / "unit.npy", (gt / 2000).astype(np.float32))
    with pytest.raises(H36MFormatError, match=r"unit\.npy.*normalised coordinates"):
        read_keypoints(tmp_path / "unit.npy", layout="h36m17")
    np.save(tmp_path / "odd.npy", np.full((4, 19, 2), 300.0))
    with pytest.raises(H36MFormatError, match=r"odd\.npy: 19 joints is not a layout"):
        read_keypoints(tmp_path / "odd.npy")
    with pytest.raises(H36MFormatError, match=r"poses\.npy: layout='smpl' is not a 2D layout"):
        read_keypoints(npy, layout="smpl")
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        read_keypoints(tmp_path / "nope.npy")


def test_errors_are_one_line(tmp_path):
    (tmp_path / "broken.json").write_text('[{"image_id": 1, "keypoints": [1, 2')
    (tmp_path / "x.txt").write_text("")
    for path in (tmp_path / "broken.json", tmp_path / "x.txt"):
        with pytest.raises(H36MFormatError) as info:
            read_keypoints(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# the VideoPose3D loader fills instead of refusing


def test_load_videopose3d_fills_nan_joints(tmp_path, gt):
    coco = coco_of(gt).astype(np.float32)
    clean = tmp_path / "clean.npz"
    np.savez_compressed(
        clean, positions_2d={"clip.mp4": {"custom": [coco]}}, metadata={"layout_name": "coco", "num_joints": 17}
    )
    seq = load_videopose3d(path_2d=clean, strict=True)["clip.mp4", "custom"]
    assert seq.confidences is None  # no confidence column and nothing missing: as before
    np.testing.assert_allclose(seq.positions_2d["0"], gt, atol=1e-3)

    holes = coco.copy()
    holes[3:5, 9] = np.nan  # l_wrist lost for two frames
    holes[7, 11] = 0.0  # l_hip written as (0, 0)
    path = tmp_path / "holes.npz"
    np.savez_compressed(
        path, positions_2d={"clip.mp4": {"custom": [holes]}}, metadata={"layout_name": "coco", "num_joints": 17}
    )
    seq = load_videopose3d(path_2d=path, strict=True)["clip.mp4", "custom"]
    xy, conf = seq.positions_2d["0"], seq.confidences["0"]
    assert np.isfinite(xy).all() and xy.shape == (T, 17, 2)
    seen = np.array([t for t in range(T) if t not in (3, 4)])
    for c in range(2):
        np.testing.assert_allclose(xy[3:5, LWRI, c], np.interp([3, 4], seen, gt[seen, LWRI, c]), atol=1e-3)
    assert conf[3, LWRI] == 0 and conf[2, LWRI] == 1
    assert conf[7, HIP] == 0 and conf[7, LHIP] == 0 and conf[7, SPINE] == 0 and conf[7, RHIP] == 1
    np.testing.assert_allclose(xy[7, HIP], (xy[6, HIP] + xy[8, HIP]) / 2, rtol=1e-6)

    lost = tmp_path / "lost.npz"
    np.savez_compressed(
        lost,
        positions_2d={"clip.mp4": {"custom": [np.full_like(coco, np.nan)]}},
        metadata={"layout_name": "coco", "num_joints": 17},
    )
    with pytest.raises(H36MFormatError, match=r"lost\.npz:positions_2d\['clip\.mp4'\]\['custom'\]\[0\]: no joint"):
        load_videopose3d(path_2d=lost, strict=True)
