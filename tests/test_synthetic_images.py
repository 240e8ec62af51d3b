"""The rendered multi-view default: labels, cameras, masks and images must agree with each other."""

import numpy as np
import pytest

from weakpose.body import BodyModel
from weakpose.commands.make_synthetic import images_main as main
from weakpose.data.datasets.multiview import (
    MultiViewImageDataset,
    crop_cameras,
    parse_sequence_folder,
    read_index,
    sequence_folder,
)
from weakpose.data.h36m.cameras import load_h36m_cameras_json
from weakpose.data.synthetic.images import SAMPLED_ACTION, make_synthetic_images
from weakpose.data.synthetic.keypoints import make_synthetic
from weakpose.data.synthetic.scene import RoomStyle, crop_box, crop_camera, render_room


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    kp = tmp_path_factory.mktemp("kp")
    make_synthetic(kp, max_frames=30, include_bvh=False, actions=["Walking"])
    out = tmp_path_factory.mktemp("img")
    result = make_synthetic_images(
        out, subjects=["S9"], max_frames=3, sampled_frames=2, image_size=48, keypoint_dir=str(kp)
    )
    result.keypoint_dir = kp
    return result, MultiViewImageDataset(out)


def test_layout_and_index(rendered):
    result, ds = rendered
    index = read_index(result.root)
    actions = {e["action"] for e in index["sequences"]}
    assert SAMPLED_ACTION in actions and any(a.startswith("Walking") for a in actions)
    assert result.num_images == 4 * sum(e["num_frames"] for e in index["sequences"])
    e = index["sequences"][0]
    folder = sequence_folder(e["subject"], e["action_id"], e["subaction"], 1)
    assert parse_sequence_folder(folder) == ("S9", e["action_id"], e["subaction"], 1)
    assert (result.root / "images" / folder / f"{folder}_000001.jpg").is_file()
    assert (result.root / "masks" / folder / f"{folder}_000001.png").is_file()
    assert "mocap.cs.cmu.edu" in index["credits"]
    with pytest.raises(ValueError, match="not a sequence folder"):
        parse_sequence_folder("S9_Walking")


def test_labels_are_the_rendered_bodys_joints(rendered):
    _, ds = rendered
    body = BodyModel.default()
    s = ds[1]
    out = body(
        betas=s["betas"][None],
        global_orient=s["global_orient"][None],
        body_pose=s["body_pose"][None],
        transl=s["transl"][None],
    )
    np.testing.assert_allclose(out.joints_h36m17[0].numpy(), s["joints_h36m17"].numpy(), atol=2e-4)
    np.testing.assert_allclose(out.joints[0].numpy(), s["joints_smpl24"].numpy(), atol=2e-4)
    # pose_3d: root-relative camera-frame joints, computed here independently from R, t
    cam_pose = s["joints_h36m17"].double() @ s["R"].double().transpose(1, 2) + s["t"].double()[:, None]
    np.testing.assert_allclose(s["pose_3d"].numpy(), (cam_pose - cam_pose[:, :1]).numpy(), atol=1e-5)


def test_masks_cover_the_projected_torso_and_crop_is_root_centred(rendered):
    _, ds = rendered
    for i in range(len(ds)):
        s = ds[i]
        size = s["image"].shape[-1]
        uv = np.asarray(crop_cameras(s).project(s["joints_h36m17"][None].expand(4, -1, -1).double()))
        np.testing.assert_allclose(uv[:, 0], size / 2, atol=1e-3)  # root at the crop centre
        for v in range(4):
            for j in (0, 7, 8):  # Hip, Spine, Thorax lie inside the body
                col, row = np.floor(uv[v, j]).astype(int)
                assert s["mask"][v, 0, row, col] > 0.5, (i, v, j)
        frac = s["mask"].mean().item()
        assert 0.03 < frac < 0.6


def test_background_is_the_room_seen_through_the_crop_camera(rendered):
    _, ds = rendered
    s = ds[0]
    cams = load_h36m_cameras_json()["S9"]
    size = s["image"].shape[-1]
    for v, cam_id in enumerate(s["camera"]):
        box = crop_box(cams[cam_id], s["joints_h36m17"][0].double().numpy())
        room = render_room(crop_camera(cams[cam_id], box, size), size, size, RoomStyle())
        bg = (s["mask"][v, 0] == 0).numpy()
        diff = np.abs(s["image"][v].permute(1, 2, 0).numpy() - room)[bg]
        assert bg.mean() > 0.4 and np.median(diff) < 0.04, np.median(diff)


def test_sampled_views_and_bad_input(rendered, tmp_path):
    result, _ = rendered
    two = MultiViewImageDataset(result.root, views=2, seed=3)
    a, b = two[0], two[0]
    assert a["camera"] == b["camera"] and len(a["camera"]) == 2  # deterministic per (seed, index)
    with pytest.raises(FileNotFoundError, match="no index"):
        MultiViewImageDataset(tmp_path)
    assert main(["--out", str(tmp_path / "x"), "--subjects", "S42", "--keypoint-dir", str(result.keypoint_dir)]) == 2
