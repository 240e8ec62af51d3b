"""Figures users look at: skeletons in 2D and 3D, training curves."""
from weakpose.viz.skeleton_plot import plot_pose_2d, plot_pose_3d, save_pose_comparison
from weakpose.viz.curves import plot_metric_curves
from weakpose.viz.image_grid import draw_multiview_overview, save_image_rows

__all__ = ["plot_pose_2d", "plot_pose_3d", "save_pose_comparison", "plot_metric_curves", "draw_multiview_overview", "save_image_rows"]
