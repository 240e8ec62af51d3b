"""Figures users look at: skeletons in 2D and 3D, training curves."""

from weakpose.viz.curves import plot_metric_curves
from weakpose.viz.image_grid import draw_multiview_overview, save_image_rows
from weakpose.viz.skeleton_plot import plot_pose_2d, plot_pose_3d, save_pose_comparison
from weakpose.viz.video import VideoInfo, iter_video_frames, video_info, write_lift_gif, write_lift_video

__all__ = [
    "plot_pose_2d",
    "plot_pose_3d",
    "save_pose_comparison",
    "plot_metric_curves",
    "draw_multiview_overview",
    "save_image_rows",
    "VideoInfo",
    "video_info",
    "iter_video_frames",
    "write_lift_video",
    "write_lift_gif",
]
