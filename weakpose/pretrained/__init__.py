"""Models weakpose trains on free CMU motion capture and ships inside the package, usable with no download.

=====================  ===========================================  =============================================
name                   what                                         load with
=====================  ===========================================  =============================================
``pose_discriminator`` RepNet's KCS pose critic (camera frame)      ``PoseCritic.pretrained()``
``temporal_lifter``    27-frame temporal lifter, 2D -> 3D (camera)  ``weakpose lift`` (no ``--checkpoint``) or
                                                                    :func:`load_pretrained_lifter`
``smpl_prior``         HMR's SMPL-parameter critic                  ``SMPLCritic.pretrained()``
=====================  ===========================================  =============================================

Each file is a dict of plain types and tensors (``torch.load(weights_only=True)`` reads it) whose ``meta`` holds
its model card: training data, augmentation, protocol and the figures on CMU sequences held out from training
(:mod:`weakpose.recipes.split`). ``tools/train_pretrained.py`` rebuilds every file from the shipped motion.
The motion is CMU's: *The data used in this project was obtained from mocap.cs.cmu.edu. The database was created
with funding from NSF EIA-0196217.*
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Tuple

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Shipped model name -> file in :data:`WEIGHTS_DIR`.
PRETRAINED_FILES: Dict[str, str] = {
    "pose_discriminator": "pose_discriminator.pt",
    "temporal_lifter": "temporal_lifter_27.pt",
    "smpl_prior": "smpl_prior.pt",
}

__all__ = ["WEIGHTS_DIR", "PRETRAINED_FILES", "pretrained_path", "slice_path", "load_pretrained_lifter"]


def pretrained_path(name: str) -> Path:
    """Path of the shipped file of model ``name`` (a key of :data:`PRETRAINED_FILES`)."""
    if name not in PRETRAINED_FILES:
        raise KeyError(f"no pretrained model named {name!r}; shipped: {sorted(PRETRAINED_FILES)}")
    path = WEIGHTS_DIR / PRETRAINED_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained {name} missing from the installed package: {path} "
            f"(rebuild it with `python tools/train_pretrained.py {name.replace('_', '-')}`)"
        )
    return path


def slice_path(name: str) -> Path:
    """The small stored slice of held-out CMU data on which the tests reproduce model ``name``'s card figure."""
    if name not in PRETRAINED_FILES:
        raise KeyError(f"no pretrained model named {name!r}; shipped: {sorted(PRETRAINED_FILES)}")
    return WEIGHTS_DIR / f"{name}_slice.npz"


def load_pretrained_lifter(map_location="cpu") -> Tuple[Any, Dict[str, Any]]:
    """The shipped temporal lifter in eval mode and its file info (``info["meta"]`` is its model card)."""
    from weakpose.lifters import load_lifter

    return load_lifter(pretrained_path("temporal_lifter"), map_location=map_location)
