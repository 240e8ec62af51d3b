"""Human3.6M's protocol constants, written once: the subjects of Protocol #1, the frame rate, the sequences left
out, the actions and the cameras (Ionescu et al., *Human3.6M*, TPAMI 2014; the splits of Martinez et al. 2017 and
VideoPose3D, Pavllo et al. 2019)."""
from __future__ import annotations

from typing import Tuple

from weakpose.data.h36m.readers import H36M_ACTIONS  # noqa: F401  (the 15 actions, with the readers' aliases)
from weakpose.geometry.camera import H36M_CAMERA_IDS, H36M_IMAGE_SIZES  # noqa: F401

#: Protocol #1: train on five subjects, test on two.
TRAIN_SUBJECTS: Tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: Tuple[str, ...] = ("S9", "S11")
#: (subject, action) pairs left out by default. S11 Directions has a corrupt video in every release.
DEFAULT_EXCLUSIONS: Tuple[Tuple[str, str], ...] = (("S11", "Directions"),)
#: Every protocol subject performs each of the 15 actions twice (30 sequences; VideoPose3D and Martinez et al.
#: check the same count).
SEQUENCES_PER_ACTION = 2
#: Frames per second of the poses and videos.
FPS = 50.0

__all__ = ["TRAIN_SUBJECTS", "TEST_SUBJECTS", "DEFAULT_EXCLUSIONS", "SEQUENCES_PER_ACTION", "FPS", "H36M_ACTIONS",
           "H36M_CAMERA_IDS", "H36M_IMAGE_SIZES"]
