"""Geometry: rotations, cameras (projection, distortion, frames, the lifters' screen intrinsics), Procrustes."""

from .camera import (
    DISTORTION_MODELS,
    Camera,
    normalize_screen_coordinates,
    unnormalize_screen_coordinates,
)
from .procrustes import procrustes_align, similarity_procrustes
from .rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_to_matrix,
)

__all__ = [
    "Camera",
    "DISTORTION_MODELS",
    "normalize_screen_coordinates",
    "unnormalize_screen_coordinates",
    "procrustes_align",
    "similarity_procrustes",
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "euler_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "matrix_to_rot6d",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "rot6d_to_matrix",
]
