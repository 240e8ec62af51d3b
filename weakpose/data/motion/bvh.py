"""BVH motion files: a strict parser and NumPy forward kinematics.

A BVH file has a ``HIERARCHY`` (nested ``ROOT``/``JOINT``/``End Site`` blocks with an ``OFFSET`` each and a
``CHANNELS`` list per joint) followed by ``MOTION`` (``Frames:``, ``Frame Time:`` and one line of channel values
per frame). Conventions implemented here (the Biovision/MotionBuilder reading that CMU's cgspeed files follow):

* Rotation channels are Euler angles in degrees, composed **in the order listed**: channels
  ``Zrotation Yrotation Xrotation`` give the local rotation ``L = Rz @ Ry @ Rx`` (intrinsic rotations, column
  vectors). Any order and any subset of the three axes is accepted, on any joint.
* Position channels give the joint's translation relative to its parent's frame. By default they *replace* the
  matching component of ``OFFSET`` (``translation="replace"``, right for root joints and for files that write six
  channels on every joint, whose position values repeat the offsets); ``translation="add"`` adds them instead.
* Forward kinematics: ``G_j = G_parent @ L_j`` and ``p_j = p_parent + G_parent @ t_j`` with ``t_j`` the (possibly
  channel-driven) offset. Positions come out in file units, in the file's own axes (CMU: Y up).

End sites are kept as nodes named ``"<parent>_End"`` in file order, so a skeleton that includes them is numbered
depth-first exactly as in the file (for cgspeed CMU files that is the usual 38-joint numbering).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

__all__ = [
    "BvhFormatError",
    "BvhMotion",
    "read_bvh",
    "parse_bvh",
    "euler_channels_to_matrix",
    "positions_with_names",
    "resample",
]

PathLike = Union[str, os.PathLike]

_ROTATION_CHANNELS = {"Xrotation": 0, "Yrotation": 1, "Zrotation": 2}
_POSITION_CHANNELS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}


class BvhFormatError(ValueError):
    """A BVH file that does not follow the format; the message names the file and line."""

    def __init__(self, source: str, line: Optional[int], message: str):
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line


def _axis_rotation(axis: int, angles_rad: np.ndarray) -> np.ndarray:
    """Right-handed rotation matrices about coordinate ``axis`` (0=x, 1=y, 2=z); angles (...,) -> (..., 3, 3)."""
    c, s = np.cos(angles_rad), np.sin(angles_rad)
    out = np.zeros(angles_rad.shape + (3, 3), dtype=np.float64)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane rotated by this axis, in right-handed order
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def euler_channels_to_matrix(angles_deg: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Compose elementary rotations in the listed order: ``R = R_axes[0] @ R_axes[1] @ ...``.

    ``angles_deg`` is (..., K) degrees with one column per entry of ``axes`` (0=x, 1=y, 2=z). K may be 0..3;
    K = 0 gives identities. This is the BVH reading of e.g. ``Zrotation Yrotation Xrotation`` (intrinsic ZYX).
    """
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    result = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(axes):
        result = result @ _axis_rotation(axis, angles[..., k])
    return result


@dataclass
class BvhMotion:
    """A parsed BVH file. Nodes (joints and end sites) are in file (depth-first) order.

    Attributes:
        names: node names; end sites are ``"<parent>_End"``.
        parents: (J,) parent index per node, -1 for the root.
        offsets: (J, 3) rest offsets from the parent, file units.
        channels: per node, the channel names in file order (empty for end sites).
        channel_start: (J,) index of each node's first column in ``motion``.
        is_end_site: (J,) bool.
        frame_time: seconds per frame.
        motion: (N, C) float64 channel values (degrees for rotations, file units for positions).
        source: file name (or a label) used in error messages.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    channel_start: np.ndarray
    is_end_site: np.ndarray
    frame_time: float
    motion: np.ndarray
    source: str = "<bvh>"

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Names of the nodes that are real joints (not end sites)."""
        return tuple(n for n, e in zip(self.names, self.is_end_site) if not e)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.source}: no joint named {name!r}; joints are {list(self.names)}") from None

    def node_parents(self, include_end_sites: bool = False) -> np.ndarray:
        """Parent indices renumbered for the node subset returned by :meth:`forward_kinematics`."""
        keep = np.ones(len(self.names), bool) if include_end_sites else ~self.is_end_site
        new_index = np.cumsum(keep) - 1
        return np.array([-1 if p < 0 else new_index[p] for p, k in zip(self.parents, keep) if k], dtype=np.int64)

    def local_transforms(self, translation: str = "replace") -> tuple[np.ndarray, np.ndarray]:
        """Per-frame local rotations (N, J, 3, 3) and translations (N, J, 3) of every node."""
        if translation not in ("replace", "add"):
            raise ValueError(f"translation must be 'replace' or 'add', got {translation!r}")
        n, num_nodes = self.num_frames, len(self.names)
        rotations = np.empty((n, num_nodes, 3, 3))
        translations = np.broadcast_to(self.offsets, (n, num_nodes, 3)).copy()
        for j, chans in enumerate(self.channels):
            start = self.channel_start[j]
            rot_axes, rot_cols = [], []
            for k, ch in enumerate(chans):
                col = self.motion[:, start + k]
                if ch in _ROTATION_CHANNELS:
                    rot_axes.append(_ROTATION_CHANNELS[ch])
                    rot_cols.append(col)
                else:
                    axis = _POSITION_CHANNELS[ch]
                    translations[:, j, axis] = col if translation == "replace" else translations[:, j, axis] + col
            angles = np.stack(rot_cols, axis=-1) if rot_cols else np.zeros((n, 0))
            rotations[:, j] = euler_channels_to_matrix(angles, rot_axes)
        return rotations, translations

    def forward_kinematics(
        self,
        include_end_sites: bool = False,
        translation: str = "replace",
        return_rotations: bool = False,
    ):
        """World positions (N, J, 3) in file units (and optionally global rotations (N, J, 3, 3)).

        ``include_end_sites=False`` returns only real joints (:attr:`joint_names` order); ``True`` returns all
        nodes in :attr:`names` order. Vectorised over frames; one pass down the tree.
        """
        local_r, local_t = self.local_transforms(translation)
        n, num_nodes = local_r.shape[:2]
        glob_r = np.empty_like(local_r)
        glob_p = np.empty((n, num_nodes, 3))
        for j, p in enumerate(self.parents):  # parents precede children in file order
            if p < 0:
                glob_r[:, j] = local_r[:, j]
                glob_p[:, j] = local_t[:, j]
            else:
                glob_r[:, j] = glob_r[:, p] @ local_r[:, j]
                glob_p[:, j] = glob_p[:, p] + np.einsum("nab,nb->na", glob_r[:, p], local_t[:, j])
        keep = slice(None) if include_end_sites else ~self.is_end_site
        if return_rotations:
            return glob_p[:, keep], glob_r[:, keep]
        return glob_p[:, keep]


def read_bvh(path: PathLike) -> BvhMotion:
    """Read and validate a BVH file (any channel order, end sites, positions on any joint)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BVH file not found: {path}")
    return parse_bvh(path.read_text(encoding="utf-8", errors="replace"), source=str(path))


class _Tokens:
    """Whitespace tokens of the hierarchy with their 1-based line numbers."""

    def __init__(self, lines: Sequence[str], source: str):
        self.items: list[tuple[str, int]] = []
        self.source = source
        for number, line in enumerate(lines, start=1):
            for tok in line.replace("{", " { ").replace("}", " } ").split():
                self.items.append((tok, number))
        self.pos = 0
        self.last_line = len(lines)

    def peek(self) -> tuple[str, int]:
        if self.pos >= len(self.items):
            return "", self.last_line
        return self.items[self.pos]

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            raise BvhFormatError(self.source, self.last_line, f"unexpected end of file, expected {what}")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expect(self, literal: str) -> int:
        tok, line = self.next(repr(literal))
        if tok != literal:
            raise BvhFormatError(self.source, line, f"expected {literal!r}, found {tok!r}")
        return line

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            return float(tok)
        except ValueError:
            raise BvhFormatError(self.source, line, f"expected a number for {what}, found {tok!r}") from None


def parse_bvh(text: str, source: str = "<string>") -> BvhMotion:
    """Parse BVH text. Errors are :class:`BvhFormatError` naming ``source`` and the line."""
    lines = text.splitlines()
    motion_line = next((i for i, l in enumerate(lines) if l.strip().upper() == "MOTION"), None)
    if motion_line is None:
        raise BvhFormatError(source, len(lines), "no MOTION section")
    tokens = _Tokens(lines[:motion_line], source)
    tok, line = tokens.next("HIERARCHY")
    if tok.upper() != "HIERARCHY":
        raise BvhFormatError(source, line, f"expected HIERARCHY, found {tok!r}")

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_site: list[bool] = []

    def parse_node(parent: int, is_end: bool, name: str, line: int) -> None:
        index = len(names)
        if name in names:
            raise BvhFormatError(source, line, f"duplicate joint name {name!r}")
        names.append(name)
        parents.append(parent)
        end_site.append(is_end)
        offsets.append([0.0, 0.0, 0.0])
        channels.append(())
        tokens.expect("{")
        seen_offset = False
        while True:
            tok, line = tokens.next("'}' closing " + name)
            if tok == "}":
                break
            if tok == "OFFSET":
                offsets[index] = [tokens.number(f"OFFSET of {name}") for _ in range(3)]
                seen_offset = True
            elif tok == "CHANNELS":
                if is_end:
                    raise BvhFormatError(source, line, f"End Site of {names[parent]!r} cannot have CHANNELS")
                count_tok, _ = tokens.next("channel count")
                if not count_tok.isdigit():
                    raise BvhFormatError(source, line, f"expected a channel count, found {count_tok!r}")
                chans = []
                for _ in range(int(count_tok)):
                    ch, ch_line = tokens.next(f"channel name of {name}")
                    if ch not in _ROTATION_CHANNELS and ch not in _POSITION_CHANNELS:
                        raise BvhFormatError(
                            source,
                            ch_line,
                            f"joint {name!r}: unknown channel {ch!r} (CHANNELS says {count_tok}; is the count right?)",
                        )
                    chans.append(ch)
                if len(set(chans)) != len(chans):
                    raise BvhFormatError(source, line, f"joint {name!r}: repeated channel in {chans}")
                channels[index] = tuple(chans)
            elif tok == "JOINT":
                if is_end:
                    raise BvhFormatError(source, line, "End Site cannot have children")
                child, child_line = tokens.next("joint name")
                parse_node(index, False, child, child_line)
            elif tok == "End":
                site_line = tokens.expect("Site")
                parse_node(index, True, f"{name}_End", site_line)
            else:
                raise BvhFormatError(source, line, f"unexpected {tok!r} inside {name!r}")
        if not seen_offset:
            raise BvhFormatError(source, line, f"joint {name!r} has no OFFSET")

    tok, line = tokens.next("ROOT")
    if tok != "ROOT":
        raise BvhFormatError(source, line, f"expected ROOT, found {tok!r}")
    root_name, root_line = tokens.next("root name")
    parse_node(-1, False, root_name, root_line)
    tok, line = tokens.peek()
    if tok:
        raise BvhFormatError(source, line, f"unexpected {tok!r} after the hierarchy (only one ROOT is supported)")

    counts = np.array([len(c) for c in channels])
    channel_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    num_channels = int(counts.sum())
    frame_time, motion = _parse_motion(lines, motion_line, num_channels, source)
    return BvhMotion(
        names=tuple(names),
        parents=np.array(parents, dtype=np.int64),
        offsets=np.array(offsets, dtype=np.float64),
        channels=tuple(channels),
        channel_start=channel_start,
        is_end_site=np.array(end_site, dtype=bool),
        frame_time=frame_time,
        motion=motion,
        source=source,
    )


def _header_value(lines: Sequence[str], index: int, key: str, source: str) -> str:
    if index >= len(lines):
        raise BvhFormatError(source, len(lines), f"unexpected end of file, expected '{key}'")
    line = lines[index].strip()
    if not line.lower().startswith(key.lower()):
        raise BvhFormatError(source, index + 1, f"expected '{key} ...', found {line!r}")
    return line[len(key) :].strip()


def _parse_motion(lines: Sequence[str], motion_line: int, num_channels: int, source: str):
    i = motion_line + 1
    frames_text = _header_value(lines, i, "Frames:", source)
    if not frames_text.isdigit():
        raise BvhFormatError(source, i + 1, f"bad frame count {frames_text!r}")
    num_frames = int(frames_text)
    time_text = _header_value(lines, i + 1, "Frame Time:", source)
    try:
        frame_time = float(time_text)
    except ValueError:
        raise BvhFormatError(source, i + 2, f"bad frame time {time_text!r}") from None
    if not frame_time > 0:
        raise BvhFormatError(source, i + 2, f"frame time must be positive, got {frame_time}")

    rows: list[list[str]] = []
    row_lines: list[int] = []
    first = i + 2
    for number, line in enumerate(lines[first:], start=first + 1):
        fields = line.split()
        if not fields:
            continue
        if len(rows) == num_frames:
            raise BvhFormatError(source, number, f"more motion lines than 'Frames: {num_frames}'")
        if len(fields) != num_channels:
            raise BvhFormatError(
                source,
                number,
                f"frame {len(rows)} has {len(fields)} values, the hierarchy declares {num_channels} channels",
            )
        rows.append(fields)
        row_lines.append(number)
    if len(rows) != num_frames:
        raise BvhFormatError(
            source, len(lines), f"truncated motion: 'Frames: {num_frames}' but the file ends after {len(rows)} frames"
        )
    try:
        motion = np.array(rows, dtype=np.float64).reshape(num_frames, num_channels)
    except ValueError:
        for row_index, fields in enumerate(rows):  # find the offending line for the message
            try:
                [float(f) for f in fields]
            except ValueError as err:
                raise BvhFormatError(
                    source, row_lines[row_index], f"frame {row_index}: non-numeric value ({err})"
                ) from None
        raise
    if not np.all(np.isfinite(motion)):
        bad = int(np.argwhere(~np.isfinite(motion))[0, 0])
        raise BvhFormatError(source, row_lines[bad], f"frame {bad}: non-finite channel value")
    return frame_time, motion


def positions_with_names(motion: BvhMotion, names: Iterable[str], **fk_kwargs) -> np.ndarray:
    """FK positions (N, K, 3) of the named nodes (joints or ``"<parent>_End"`` end sites), in the given order."""
    all_positions = motion.forward_kinematics(include_end_sites=True, **fk_kwargs)
    return all_positions[:, [motion.index(n) for n in names]]


def resample(positions: np.ndarray, src_fps: float, dst_fps: float, axis: int = 0) -> np.ndarray:
    """Resample a sequence to ``dst_fps`` by linear interpolation at times ``t_k = k / dst_fps``.

    ``positions`` holds frames along ``axis`` sampled at ``t_i = i / src_fps``; the output keeps every
    ``t_k <= (N - 1) / src_fps`` (no extrapolation) and the input's float dtype.

    Why positions and not joint angles: interpolating Euler angles breaks at the +-180 degree wrap and near gimbal
    lock, while the 3D positions are what the datasets store. At mocap rates (120 -> 50 Hz, 8.3 ms between input
    frames) a bone turning at 10 rad/s shortens by at most L (w dt)^2 / 8, under 0.1 %, between samples; callers
    that need exact lengths (the synthetic generator) re-impose them afterwards. Human motion has little energy
    above 10 Hz, well below the 25 Hz Nyquist limit of 50 Hz, so no anti-alias filter is applied.
    """
    x = np.asarray(positions)
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got src_fps={src_fps}, dst_fps={dst_fps}")
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    if n == 0:
        raise ValueError("cannot resample an empty sequence")
    duration = (n - 1) / src_fps
    # a tiny tolerance keeps the last sample when duration * dst_fps is an integer up to rounding
    num_out = int(np.floor(duration * dst_fps + 1e-9)) + 1
    source_index = np.arange(num_out) * (src_fps / dst_fps)
    lower = np.clip(np.floor(source_index + 1e-9).astype(np.int64), 0, n - 1)
    upper = np.minimum(lower + 1, n - 1)
    weight = np.clip(source_index - lower, 0.0, 1.0).reshape((-1,) + (1,) * (x.ndim - 1))
    x64 = x.astype(np.float64, copy=False)
    out = (1.0 - weight) * x64[lower] + weight * x64[upper]
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    return np.moveaxis(out.astype(dtype, copy=False), 0, axis)
