"""Clothing and skin as per-vertex colours: distinct, colourful subjects for the synthetic image set.

Colours are assigned by body part (the SMPL-24 joint that dominates each vertex's skinning, ``part_labels``) in the
rest pose, so they move with the mesh: a top (optionally striped, short or long sleeves), trousers or shorts,
shoes, skin and hair.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from weakpose.skeleton import SMPL24

RGB = Tuple[float, float, float]
_S = SMPL24.index
TORSO = [_S(n) for n in ("spine1", "spine2", "spine3", "l_collar", "r_collar")]
UPPER_ARMS = [_S("l_shoulder"), _S("r_shoulder")]
FOREARMS = [_S("l_elbow"), _S("r_elbow")]
HANDS = [_S(n) for n in ("l_wrist", "r_wrist", "l_hand", "r_hand")]
HIPS_THIGHS = [_S(n) for n in ("pelvis", "l_hip", "r_hip")]
SHINS = [_S("l_knee"), _S("r_knee")]
FEET = [_S(n) for n in ("l_ankle", "r_ankle", "l_foot", "r_foot")]
HEAD = [_S("neck"), _S("head")]


@dataclass(frozen=True)
class ClothingStyle:
    top: RGB
    bottom: RGB
    shoes: RGB
    skin: RGB
    hair: RGB
    long_sleeves: bool = True
    long_trousers: bool = True
    stripe_period: float = 0.0  # metres; 0 = plain top
    stripe_contrast: float = 0.35


def _hsv(h: float, s: float, v: float) -> RGB:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def sample_clothing(rng: np.random.Generator, index: int = 0, count: int = 7) -> ClothingStyle:
    """A colourful outfit; ``index`` of ``count`` spreads top hues around the colour wheel so subjects differ."""
    hue = (index + rng.uniform(-0.2, 0.2)) / max(count, 1)
    skin_tone = rng.uniform(0.0, 1.0)
    return ClothingStyle(
        top=_hsv(hue, rng.uniform(0.6, 0.95), rng.uniform(0.65, 0.95)),
        bottom=_hsv(hue + 0.5 + rng.uniform(-0.15, 0.15), rng.uniform(0.35, 0.8), rng.uniform(0.25, 0.6)),
        shoes=_hsv(rng.uniform(), rng.uniform(0, 0.3), rng.uniform(0.1, 0.9)),
        skin=_hsv(0.06 + 0.02 * skin_tone, 0.35 + 0.25 * skin_tone, 0.95 - 0.55 * skin_tone),
        hair=_hsv(0.08, rng.uniform(0.3, 0.7), rng.uniform(0.05, 0.45)),
        long_sleeves=bool(rng.uniform() < 0.5),
        long_trousers=bool(rng.uniform() < 0.7),
        stripe_period=float(rng.choice([0.0, 0.06, 0.1])),
    )


def vertex_colours(
    vertices: np.ndarray, part_labels: np.ndarray, joints: np.ndarray, style: ClothingStyle
) -> np.ndarray:
    """``(V, 3)`` RGB in [0, 1] for rest-pose ``vertices`` (Y up, metres) with SMPL-24 ``part_labels`` (V,)
    and rest ``joints`` (24, 3) (used to place hair on the top and back of the head)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    labels = np.asarray(part_labels)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or labels.shape != (vertices.shape[0],):
        raise ValueError(f"vertices (V, 3) and part_labels (V,) expected; got {vertices.shape}, {labels.shape}")
    if labels.min() < 0 or labels.max() > 23:
        raise ValueError(f"part_labels must be SMPL-24 joint indices 0..23; got range {labels.min()}..{labels.max()}")
    colours = np.empty((len(labels), 3))
    table = {
        **{j: style.top for j in TORSO + UPPER_ARMS},
        **{j: (style.top if style.long_sleeves else style.skin) for j in FOREARMS},
        **{j: style.skin for j in HANDS + HEAD},
        **{j: style.bottom for j in HIPS_THIGHS},
        **{j: (style.bottom if style.long_trousers else style.skin) for j in SHINS},
        **{j: style.shoes for j in FEET},
    }
    for j in range(24):
        colours[labels == j] = table[j]
    if style.stripe_period > 0:  # horizontal stripes on the top, by height in the rest pose
        on_top = np.isin(labels, TORSO + UPPER_ARMS) | (np.isin(labels, FOREARMS) & style.long_sleeves)
        stripe = np.sin(2 * np.pi * vertices[:, 1] / style.stripe_period) > 0
        colours[on_top & stripe] *= 1 - style.stripe_contrast
    head = np.asarray(joints)[_S("head")]
    hair = (labels == _S("head")) & ((vertices[:, 1] > head[1] + 0.04) | (vertices[:, 2] < head[2] - 0.04))
    colours[hair] = style.hair
    return np.clip(colours, 0.0, 1.0)


__all__ = ["ClothingStyle", "sample_clothing", "vertex_colours"]
