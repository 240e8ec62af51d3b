"""Temporal-convolution lifter (2D keypoint sequences -> 3D poses) and the decoupled root trajectory network.

Pavllo, Feichtenhofer, Grangier, Auli, *3D human pose estimation in video with temporal convolutions and
semi-supervised training*, CVPR 2019 ("VideoPose3D"). The design, as the paper describes it:

* an expand convolution (kernel ``W[0]``, joints x features -> C channels), then blocks of
  ``[conv (kernel W[i], dilation W[0]·…·W[i-1]) + BN + ReLU + dropout, 1x1 conv + BN + ReLU + dropout]``, each block
  adding a residual taken from its input (the centre slice, or the last frame of the window when causal), and a
  1x1 convolution to ``num_joints_out * 3``. Convolutions have no bias (batch norm follows) except the last one.
  The receptive field is ``W[0]·W[1]·…`` (3,3,3 -> 27 frames; 3,3,3,3 -> 81; 3,3,3,3,3 -> 243).
* Two twins with ONE set of weights:
  - the **inference twin** (:meth:`TemporalLifter.forward`): dilated convolutions over whole sequences, every
    output frame sharing the intermediate features of its neighbours; ``(B, T, J, 2) -> (B, T - rf + 1, J, 3)``.
  - the **training twin** (:meth:`TemporalLifter.forward_windows`, or the module :meth:`TemporalLifter.training_twin`):
    on windows of exactly ``rf`` frames only the features the single output needs are computed, which turns
    every dilated convolution into a strided one (stride = kernel width, dilation 1) and each residual slice into
    ``[offset::W[i]]``. ``(B, rf, J, 2) -> (B, 1, J, 3)``; far fewer operations than the dilated network on the
    same windows. In eval mode both give the same numbers (batch norm in train mode sees different positions,
    so its batch statistics differ - as in the paper).

Which frame an output belongs to: output ``j`` of the inference twin covers input frames ``j .. j + rf - 1`` and is
the pose of frame ``j + (rf - 1) // 2`` (centre) or, with ``causal=True``, of frame ``j + rf - 1`` (its last
frame: only the past and present are used - the residual slices are shifted to the newest frame, so the
prediction is anchored on the frame it reports). ``forward(x, pad_edges=True)`` repeats the edge frames (as
VideoPose3D does at test time) so output ``t`` is the pose of input frame ``t`` and ``T`` frames give ``T`` poses.
:meth:`TemporalLifter.lift_sequence` does the same for whole (arbitrarily long) sequences in bounded memory, in
overlapping chunks, optionally averaging with the mirrored sequence (VideoPose3D's test-time flip augmentation).

Units: inputs are normalised screen coordinates (``weakpose.data.datasets.poses``: u/w·2 - 1, v/w·2 - h/w), joints in
the order the caller trains with (H36M-17 by default); :class:`TemporalLifter` outputs root-relative camera-frame METRES
(whatever the targets are), :class:`TrajectoryModel` the camera-frame root position in METRES.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from weakpose.geometry.camera import reproject  # noqa: F401  (re-exported: the lifters' weak supervision)
from weakpose.skeleton import JointOrder, flip_joints

__all__ = ["TemporalLifter", "StridedTrainingTwin", "TrajectoryModel", "reproject"]


def _conv_time(h: torch.Tensor, weight: torch.Tensor, dilation: int = 1, stride: int = 1) -> torch.Tensor:
    """A bias-free temporal convolution of channels-last features ``(B, T, C_in)`` with a Conv1d weight
    ``(C_out, C_in, k)``, as matrix products: stride = k (the training twin's non-overlapping groups) is one
    product on reshaped patches; stride 1 with any dilation is the sum of k products with shifted slices.
    Returns ``(B, T', C_out)``; equals ``conv1d`` on ``(B, C_in, T)`` up to rounding."""
    k = weight.shape[-1]
    b, t, c = h.shape
    if stride == k and dilation == 1:
        t_out = t // k
        patches = h[:, : t_out * k].reshape(b, t_out, k * c)  # each row: k frames, channels within each frame
        return patches @ weight.permute(0, 2, 1).reshape(weight.shape[0], k * c).T
    if stride != 1:
        raise ValueError(f"_conv_time: stride {stride} with kernel {k} and dilation {dilation} is not supported")
    t_out = t - (k - 1) * dilation
    out = h[:, :t_out] @ weight[:, :, 0].T
    for j in range(1, k):
        out = out + h[:, j * dilation : j * dilation + t_out] @ weight[:, :, j].T
    return out


class _Block(nn.Module):
    """One residual block: (dilated or dense) temporal conv + BN, then a 1x1 conv + BN (ReLU + dropout after each)."""

    def __init__(self, channels: int, width: int, dilation: int, dense: bool):
        super().__init__()
        self.width, self.dilation = width, dilation
        # dense=True: the same temporal span with a plain kernel (the paper's dilated-vs-dense ablation)
        kernel = (width - 1) * dilation + 1 if dense else width
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=1 if dense else dilation, bias=False)
        self.bn = nn.BatchNorm1d(channels)
        self.pointwise = nn.Conv1d(channels, channels, 1, bias=False)
        self.pointwise_bn = nn.BatchNorm1d(channels)

    @property
    def span(self) -> int:
        """Input frames one output of this block sees (relative to its input)."""
        return (self.width - 1) * self.dilation + 1


class TemporalLifter(nn.Module):
    """Dilated temporal-convolution lifter (Pavllo et al. 2019); see the module docstring for the twins.

    Args:
        num_joints_in, in_features: input joints and values per joint (2 for u, v; 3 with a confidence).
        num_joints_out: output joints (3 values each, metres).
        filter_widths: odd kernel widths; the receptive field is their product.
        channels: width of every hidden layer (1024 in the paper).
        dropout: dropout probability after every ReLU (0.25 in the paper).
        causal: predict the last frame of each window instead of its centre (real-time use).
        dense: plain convolutions spanning the same frames instead of dilated ones (ablation; inference twin only,
            more parameters).
        root_relative: subtract the output's joint 0 from every joint, so poses are root-relative BY CONSTRUCTION
            (default). Training compares root-centred poses, which leaves the raw joint 0 free; adding the
            decoupled root (trajectory model) to an uncentred pose would put the body beside its root.

    The 243-frame configuration ``(3, 3, 3, 3, 3)``, 17 joints in and out, 1024 channels has 16,952,371 parameters.
    """

    def __init__(
        self,
        num_joints_in: int = 17,
        in_features: int = 2,
        num_joints_out: int = 17,
        filter_widths: Sequence[int] = (3, 3, 3),
        channels: int = 1024,
        dropout: float = 0.25,
        causal: bool = False,
        dense: bool = False,
        root_relative: bool = True,
    ):
        super().__init__()
        widths = tuple(int(w) for w in filter_widths)
        if not widths or any(w < 1 or w % 2 == 0 for w in widths):
            raise ValueError(f"TemporalLifter: filter_widths must be odd positive integers; got {tuple(filter_widths)}")
        for name, v in (
            ("num_joints_in", num_joints_in),
            ("in_features", in_features),
            ("num_joints_out", num_joints_out),
            ("channels", channels),
        ):
            if int(v) < 1:
                raise ValueError(f"TemporalLifter: {name} must be >= 1; got {v}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"TemporalLifter: dropout must be in [0, 1); got {dropout}")
        self.num_joints_in, self.in_features = int(num_joints_in), int(in_features)
        self.num_joints_out, self.channels = int(num_joints_out), int(channels)
        self.filter_widths, self.causal, self.dense = widths, bool(causal), bool(dense)
        self.root_relative = bool(root_relative) and self.num_joints_out > 1

        self.expand_conv = nn.Conv1d(self.num_joints_in * self.in_features, channels, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels)
        blocks, dilation = [], widths[0]
        for w in widths[1:]:
            blocks.append(_Block(channels, w, dilation, dense))
            dilation *= w
        self.blocks = nn.ModuleList(blocks)
        self.shrink = nn.Conv1d(channels, self.num_joints_out * 3, 1)  # the only convolution with a bias
        self.drop = nn.Dropout(dropout)

    # -- geometry of the network -------------------------------------------------------------------------------
    def receptive_field(self) -> int:
        """Input frames behind one output frame: the product of the filter widths."""
        return math.prod(self.filter_widths)

    @property
    def frame_offset(self) -> int:
        """Input frame (relative to the window start) whose pose an output reports: centre, or last if causal."""
        rf = self.receptive_field()
        return rf - 1 if self.causal else (rf - 1) // 2

    def set_bn_momentum(self, momentum: float) -> None:
        """Set every batch norm's momentum (VideoPose3D decays it during training)."""
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = momentum

    # -- shapes and layers ---------------------------------------------------------------------------------------
    # When gradients are recorded, features run channels-last, (B, T, C), and every temporal convolution is
    # computed as matrix products with the conv modules' weights (:func:`_conv_time`): on CPU, oneDNN's conv1d
    # backward is several times slower than the same products (3.3x for the 27-frame training twin;
    # bench/README.md). Without gradients forward() runs conv1d (:func:`conv1d_network`), whose forward is faster.
    # The modules stay Conv1d / BatchNorm1d, so weight files are unchanged.
    def _frames_last(self, x: torch.Tensor, who: str) -> torch.Tensor:
        """(B, T, J, F) -> (B, T, J·F)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{who}: expected a torch tensor (B, T, {self.num_joints_in}, {self.in_features}); "
                f"got {type(x).__name__}"
            )
        if x.dim() != 4 or x.shape[2:] != (self.num_joints_in, self.in_features):
            raise ValueError(
                f"{who}: expected shape (B, T, {self.num_joints_in}, {self.in_features}); got {tuple(x.shape)}"
            )
        return x.reshape(x.shape[0], x.shape[1], -1)

    def _joints_out(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T', C) -> the 1x1 output convolution (with bias) -> (B, T', J_out, 3)."""
        out = h @ self.shrink.weight[:, :, 0].T + self.shrink.bias
        return self._centre(out.reshape(h.shape[0], h.shape[1], self.num_joints_out, 3))

    def _centre(self, out: torch.Tensor) -> torch.Tensor:
        """(..., J_out, 3): joint 0 moved to the origin when ``root_relative``."""
        return out - out[..., :1, :] if self.root_relative else out

    def _act(self, h: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        """Batch norm over (B·T, C) - the statistics BatchNorm1d takes over (B, C, T) - then ReLU and dropout."""
        b, t, c = h.shape
        return self.drop(F.relu(bn(h.reshape(b * t, c)).reshape(b, t, c)))

    # -- inference twin: dilated convolutions over whole sequences ---------------------------------------------
    def forward(self, x: torch.Tensor, pad_edges: bool = False) -> torch.Tensor:
        """``(B, T, J_in, F)`` -> ``(B, T - rf + 1, J_out, 3)`` (dilated inference twin, any ``T >= rf``).

        ``pad_edges=True`` repeats the first/last frame so the output has ``T`` frames, output ``t`` being the pose
        of input frame ``t`` (causal: only frames ``<= t`` are used).
        """
        rf = self.receptive_field()
        if pad_edges:
            self._frames_last(x, "TemporalLifter.forward")  # shape check before padding
            before = self.frame_offset
            x = torch.cat(
                [x[:, :1].expand(-1, before, -1, -1), x, x[:, -1:].expand(-1, rf - 1 - before, -1, -1)], dim=1
            )
        h = self._frames_last(x, "TemporalLifter.forward")
        if h.shape[1] < rf:
            raise ValueError(
                f"TemporalLifter.forward: sequence of {h.shape[1]} frames is shorter than the receptive "
                f"field {rf} (input shape {tuple(x.shape)}); use pad_edges=True"
            )
        if not torch.is_grad_enabled():
            return conv1d_network(self, x)  # no backward to pay for: oneDNN's conv forward is ~15% faster here
        return self._forward_products(h)

    def _forward_products(self, h: torch.Tensor) -> torch.Tensor:
        """The dilated network on channels-last features ``(B, T, J·F)`` as matrix products (training)."""
        h = self._act(_conv_time(h, self.expand_conv.weight), self.expand_bn)
        for block in self.blocks:
            pad = (block.span - 1) // 2
            start = 2 * pad if self.causal else pad  # residual: the frame the block's output belongs to
            length = h.shape[1] - (block.span - 1)
            residual = h[:, start : start + length]
            y = self._act(_conv_time(h, block.conv.weight, dilation=block.conv.dilation[0]), block.bn)
            h = residual + self._act(y @ block.pointwise.weight[:, :, 0].T, block.pointwise_bn)
        return self._joints_out(h)

    # -- whole-sequence inference: chunked dilated network with edge padding and optional flip averaging -------
    def _flip_order(self, spec, num_joints: int, which: str) -> JointOrder:
        """One side (input or output) of a ``flip`` argument -> a :class:`JointOrder` for :func:`flip_joints`."""
        if isinstance(spec, JointOrder):
            order = spec
        else:
            try:
                left, right = (tuple(int(i) for i in side) for side in spec)
            except (TypeError, ValueError):
                raise TypeError(
                    f"TemporalLifter.lift_sequence: flip must be a JointOrder (e.g. H36M17), a pair "
                    f"(left_joints, right_joints) of index lists, or a pair (input_spec, output_spec) "
                    f"of those; got {spec!r} for the {which} joints"
                ) from None
            bad = [i for i in left + right if not 0 <= i < num_joints]
            if len(left) != len(right) or bad or len(set(left + right)) != len(left + right):
                raise ValueError(
                    f"TemporalLifter.lift_sequence: the {which} flip lists must be two equally long "
                    f"lists of distinct joint indices in [0, {num_joints}); got left={list(left)}, "
                    f"right={list(right)}"
                )
            order = JointOrder(
                name=f"flip-{which}",
                joints=tuple(f"joint{i}" for i in range(num_joints)),
                parents=(-1,) * num_joints,
                left=left,
                right=right,
            )
        if order.num_joints != num_joints:
            raise ValueError(
                f"TemporalLifter.lift_sequence: flip order {order.name!r} has {order.num_joints} joints "
                f"but the model has {num_joints} {which} joints"
            )
        return order

    def _flip_orders(self, flip) -> Tuple[JointOrder, JointOrder]:
        """``flip`` -> (input order, output order); see :meth:`lift_sequence`."""

        def is_list(v):  # a list of indices (tuple, list, 1-D array/tensor), not one index
            return isinstance(v, (tuple, list)) or getattr(v, "ndim", 0) >= 1

        # (input_spec, output_spec): a pair whose members are JointOrders or (left, right) pairs of lists;
        # otherwise a single spec (a JointOrder or (left, right) index lists) for both sides
        if (
            isinstance(flip, (tuple, list))
            and len(flip) == 2
            and any(isinstance(v, JointOrder) or (is_list(v) and any(is_list(u) for u in v)) for v in flip)
        ):
            spec_in, spec_out = flip
        else:
            spec_in = spec_out = flip
        return (
            self._flip_order(spec_in, self.num_joints_in, "input"),
            self._flip_order(spec_out, self.num_joints_out, "output"),
        )

    @torch.no_grad()
    def lift_sequence(
        self, keypoints: torch.Tensor, chunk_frames: int = 4096, flip: Optional[Union[JointOrder, Sequence]] = None
    ) -> torch.Tensor:
        """Lift whole sequences: ``(T, J_in, F)`` -> ``(T, J_out, 3)`` or ``(B, T, J_in, F)`` -> ``(B, T, J_out, 3)``.

        The result equals ``forward(keypoints, pad_edges=True)``: the edge frames are repeated (before the first
        frame and after the last when centred; only before the first when ``causal``), so output ``t`` is the pose
        of input frame ``t``, any ``T >= 1`` works and every frame's pose is what its own ``rf``-frame window gives
        - but the network runs once per chunk, each frame's features being shared by all the windows that contain
        it, instead of once per window.

        Chunking: the outputs are produced in consecutive chunks of at most ``chunk_frames`` frames; the chunk of
        outputs ``[s, e)`` is computed from edge-padded input frames ``s .. e + rf - 2`` (its outputs' frames plus
        ``rf - 1`` frames of context shared with the neighbouring chunks), and the chunks are concatenated in order.
        Peak activation memory is therefore bounded by ``chunk_frames + rf - 1`` frames per sequence (twice that
        with ``flip``, which lifts the mirrored copies in the same batch), whatever ``T`` is; the chunking does not
        change the numbers beyond floating-point rounding.

        Mode: this method runs under :func:`torch.no_grad` and REQUIRES eval mode - call ``model.eval()`` first. It
        never switches modes itself; in training mode batch norm would normalise with (and update its running
        statistics from) each chunk's statistics and dropout would be active, so it raises a ``RuntimeError``.

        Args:
            keypoints: torch tensor ``(T, J_in, F)`` or ``(B, T, J_in, F)`` (a batch of equal-length sequences),
                in the model's dtype and device.
            chunk_frames: most output frames per sequence lifted in one network call (>= 1).
            flip: test-time flip augmentation as VideoPose3D evaluates: lift the sequence and its mirror image
                (input coordinate 0 negated, left/right joints swapped, :func:`weakpose.skeleton.flip_joints`),
                mirror the second output back the same way and average the two. Either a
                :class:`~weakpose.skeleton.JointOrder` (e.g. ``H36M17``) used for the input and the output
                joints, a pair ``(left_joints, right_joints)`` of index lists used for both, or a pair
                ``(input_spec, output_spec)`` of those when the layouts differ (a :class:`TrajectoryModel`'s single
                output joint: ``(H36M17, ([], []))``). ``None``: no flip.

        Returns:
            ``(T, J_out, 3)`` or ``(B, T, J_out, 3)`` root-relative camera-frame metres (the model's outputs).
        """
        J, Fe = self.num_joints_in, self.in_features
        if not isinstance(keypoints, torch.Tensor):
            raise TypeError(
                f"TemporalLifter.lift_sequence: expected a torch tensor of shape (T, {J}, {Fe}) or "
                f"(B, T, {J}, {Fe}); got {type(keypoints).__name__}"
            )
        if (
            keypoints.dim() not in (3, 4)
            or keypoints.shape[-2:] != (J, Fe)
            or keypoints.shape[-3] < 1
            or keypoints.shape[0] < 1
        ):
            raise ValueError(
                f"TemporalLifter.lift_sequence: expected keypoints of shape (T, {J}, {Fe}) or "
                f"(B, T, {J}, {Fe}) with T >= 1; got {tuple(keypoints.shape)}"
            )
        if isinstance(chunk_frames, bool) or not hasattr(chunk_frames, "__index__") or int(chunk_frames) < 1:
            raise ValueError(
                f"TemporalLifter.lift_sequence: chunk_frames must be an integer >= 1; got {chunk_frames!r}"
            )
        chunk_frames = int(chunk_frames)
        if any(m.training for m in self.modules()):
            raise RuntimeError(
                "TemporalLifter.lift_sequence: the model is in training mode (batch norm would use "
                "chunk statistics, dropout would be active); call model.eval() first"
            )
        orders = self._flip_orders(flip) if flip is not None else None

        single = keypoints.dim() == 3
        x = keypoints[None] if single else keypoints
        B, T = x.shape[:2]
        rf, before = self.receptive_field(), self.frame_offset
        outs = []
        for s in range(0, T, chunk_frames):
            e = min(s + chunk_frames, T)
            # edge-padded frames s .. e + rf - 2 are original frames (index - before), clipped to [0, T - 1]
            idx = torch.arange(s - before, e + rf - 1 - before, device=x.device).clamp_(0, T - 1)
            chunk = x.index_select(1, idx)
            if orders is None:
                outs.append(self.forward(chunk))
            else:
                y = self.forward(torch.cat([chunk, flip_joints(chunk, orders[0], axis=0)], dim=0))
                outs.append(0.5 * (y[:B] + flip_joints(y[B:], orders[1], axis=0)))
        out = torch.cat(outs, dim=1)
        return out[0] if single else out

    # -- training twin: strided convolutions on receptive-field windows ----------------------------------------
    def forward_windows(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, rf, J_in, F)`` -> ``(B, 1, J_out, 3)``: the strided training twin (same weights as :meth:`forward`).

        Each dilated convolution becomes a convolution with stride = its kernel width, and each residual slice
        picks the centre (or, causal, the last) frame of every group of ``W[i]``.
        """
        if self.dense:
            raise ValueError(
                "TemporalLifter.forward_windows: a dense=True model has no strided twin "
                "(its kernels span the whole dilated range); train it with forward()"
            )
        rf = self.receptive_field()
        h = self._frames_last(x, "TemporalLifter.forward_windows")
        if h.shape[1] != rf:
            raise ValueError(
                f"TemporalLifter.forward_windows: expects windows of exactly the receptive field "
                f"{rf} frames; got input shape {tuple(x.shape)}"
            )
        h = self._act(_conv_time(h, self.expand_conv.weight, stride=self.filter_widths[0]), self.expand_bn)
        for block in self.blocks:
            w = block.width
            residual = h[:, (w - 1 if self.causal else w // 2) :: w]
            y = self._act(_conv_time(h, block.conv.weight, stride=w), block.bn)
            h = residual + self._act(y @ block.pointwise.weight[:, :, 0].T, block.pointwise_bn)
        return self._joints_out(h)

    def training_twin(self) -> "StridedTrainingTwin":
        """A module whose ``forward`` is :meth:`forward_windows`; it holds THIS lifter, so they share parameters,
        buffers and train/eval mode (an optimizer over either's parameters updates both)."""
        return StridedTrainingTwin(self)


class StridedTrainingTwin(nn.Module):
    """The strided training view of a :class:`TemporalLifter` (see :meth:`TemporalLifter.training_twin`).

    Its state dict is the lifter's under the prefix ``lifter.``; save ``twin.lifter.state_dict()`` to get the
    weights the inference twin loads.
    """

    def __init__(self, lifter: TemporalLifter):
        super().__init__()
        if lifter.dense:
            raise ValueError("training_twin: a dense=True TemporalLifter has no strided twin")
        self.lifter = lifter

    def receptive_field(self) -> int:
        return self.lifter.receptive_field()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lifter.forward_windows(x)


class TrajectoryModel(TemporalLifter):
    """The decoupled root of Pavllo et al. 2019: the same architecture with one output "joint", predicting the
    camera-frame position of the root joint in METRES from ABSOLUTE normalised 2D keypoints (not root-centred).

    Output ``(B, T', 1, 3)`` so it adds directly to the root-relative poses of a :class:`TemporalLifter` with the
    same filter widths; :func:`reproject` sends the sum through the camera intrinsics.
    """

    def __init__(
        self,
        num_joints_in: int = 17,
        in_features: int = 2,
        filter_widths: Sequence[int] = (3, 3, 3),
        channels: int = 1024,
        dropout: float = 0.25,
        causal: bool = False,
        dense: bool = False,
    ):
        super().__init__(
            num_joints_in=num_joints_in,
            in_features=in_features,
            num_joints_out=1,
            filter_widths=filter_widths,
            channels=channels,
            dropout=dropout,
            causal=causal,
            dense=dense,
            root_relative=False,
        )

    @staticmethod
    def to_root(raw: torch.Tensor) -> torch.Tensor:
        """Network output ``(..., 3)`` -> camera-frame root in metres: x, y as output; depth kept in front of the
        camera, ``z = 0.5 + softplus(raw_z + 4)`` (about 4.5 m at initialisation, where capture subjects stand; a
        raw depth near zero would make a reprojection loss explode before anything is learnt)."""
        return torch.cat([raw[..., :2], 0.5 + F.softplus(raw[..., 2:] + 4.0)], dim=-1)

    @torch.no_grad()
    def lift_root_sequence(
        self, keypoints: torch.Tensor, chunk_frames: int = 4096, flip: Optional[JointOrder] = None
    ) -> torch.Tensor:
        """Whole sequences ``(T, J, F)`` or ``(B, T, J, F)`` of ABSOLUTE normalised 2D -> camera-frame root
        ``(T, 3)`` / ``(B, T, 3)`` metres (:meth:`lift_sequence` then :meth:`to_root`). With ``flip`` (the input
        layout, e.g. ``H36M17``) the raw outputs of the sequence and of its mirror (x negated back) are averaged
        before the depth transform."""
        spec = None if flip is None else (flip, ([], []))
        return self.to_root(self.lift_sequence(keypoints, chunk_frames=chunk_frames, flip=spec)[..., 0, :])


def conv1d_network(model: TemporalLifter, x: torch.Tensor, windows: bool = False) -> torch.Tensor:
    """``model`` written with ``torch.nn.functional.conv1d`` on ``(B, C, T)`` features, as the published design
    reads (and as weakpose trained it before the matrix-product layers): the dilated network (``windows=False``)
    or the strided training twin (``windows=True``). :meth:`TemporalLifter.forward` runs it when no gradient is
    recorded (inference); the tests and ``bench/bench_lifter.py`` compare the matrix-product layers with it."""

    def act(h, bn):
        return model.drop(F.relu(bn(h)))

    h = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2)
    w0 = model.filter_widths[0]
    h = act(F.conv1d(h, model.expand_conv.weight, stride=w0 if windows else 1), model.expand_bn)
    for block in model.blocks:
        if windows:
            w = block.width
            residual = h[:, :, (w - 1 if model.causal else w // 2) :: w]
            y = act(F.conv1d(h, block.conv.weight, stride=w), block.bn)
        else:
            pad = (block.span - 1) // 2
            start = 2 * pad if model.causal else pad
            residual = h[:, :, start : start + h.shape[-1] - (block.span - 1)]
            y = act(block.conv(h), block.bn)
        h = residual + act(block.pointwise(y), block.pointwise_bn)
    out = model.shrink(h)
    return model._centre(out.transpose(1, 2).reshape(x.shape[0], out.shape[-1], model.num_joints_out, 3))
