import matplotlib.image as mpimg
import numpy as np
import pytest

from weakpose.skeleton import H36M17
from weakpose.viz import plot_metric_curves, save_pose_comparison


def _pose(rng):
    p = rng.normal(scale=0.2, size=(17, 3))
    return p - p[0]


def test_pose_comparison_draws_left_blue_right_red(tmp_path, rng):
    # A pose whose left side lies at negative x in the 2D panel and right side at positive x.
    p2d = np.zeros((17, 2)) + 500.0
    p2d[list(H36M17.left), 0] = 300.0
    p2d[list(H36M17.right), 0] = 700.0
    p2d[:, 1] = np.linspace(100, 900, 17)
    out = tmp_path / "cmp.png"
    save_pose_comparison(out, [p2d], [_pose(rng)], [_pose(rng)], titles=["x"], image_size=(1000, 1000))
    img = mpimg.imread(out)[..., :3]
    top = img[: img.shape[0] // 2]  # the 2D panel
    blue = (top[..., 2] > 0.6) & (top[..., 0] < 0.35)
    red = (top[..., 0] > 0.7) & (top[..., 2] < 0.35) & (top[..., 1] < 0.35)
    assert blue.sum() > 20 and red.sum() > 20
    # left limbs (blue) are drawn left of the right limbs (red) in image columns
    assert np.nonzero(blue)[1].mean() < np.nonzero(red)[1].mean()


def test_metric_curves_read_log_and_reject_bad_csv(tmp_path):
    log = tmp_path / "m.csv"
    log.write_text("step,loss,val_mpjpe\n1,1.0,\n2,0.5,0.3\n3,0.25,\n")
    keys = plot_metric_curves(log, tmp_path / "c.png")
    assert keys == ["loss", "val_mpjpe"]
    assert mpimg.imread(tmp_path / "c.png").shape[0] > 100
    bad = tmp_path / "bad.csv"
    bad.write_text("iteration,loss\n1,2\n")
    with pytest.raises(KeyError, match="no 'step' column"):
        plot_metric_curves(bad, tmp_path / "d.png")
