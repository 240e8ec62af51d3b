"""Human3.6M's protocol constants, written once: the subjects of Protocol #1, the frame rate, the sequences left
out, the actions and the cameras (Ionescu et al., *Human3.6M*, TPAMI 2014; the splits of Martinez et al. 2017 and
VideoPose3D, Pavllo et al. 2019)."""

from __future__ import annotations

from typing import Dict, Tuple

from weakpose.data.h36m.readers import H36M_ACTIONS  # noqa: F401  (the 15 actions, with the readers' aliases)

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

#: The four H36M cameras, in the order of the Martinez ``camera1..4`` groups and VideoPose3D's camera lists.
H36M_CAMERA_IDS: Tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
#: (width, height) in pixels of each H36M camera's video.
H36M_IMAGE_SIZES: Dict[str, Tuple[int, int]] = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}

__all__ = [
    "TRAIN_SUBJECTS",
    "TEST_SUBJECTS",
    "DEFAULT_EXCLUSIONS",
    "SEQUENCES_PER_ACTION",
    "FPS",
    "H36M_ACTIONS",
    "H36M_CAMERA_IDS",
    "H36M_IMAGE_SIZES",
]
