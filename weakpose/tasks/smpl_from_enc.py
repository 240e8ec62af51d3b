"""Train an SMPL regressor on the latent of a frozen multi-view encoder (Rhodin et al., ECCV 2018).

The encoder (:class:`weakpose.models.encoder_decoder.EncoderDecoder`, trained without labels by novel-view
synthesis) maps a root-centred crop to a 3D latent in the crop's VIRTUAL camera frame (the real camera turned to
look at the root, :mod:`weakpose.geometry.virtual_camera`). A :class:`weakpose.models.smpl_regressor.SMPLRegressor`
(HMR/SPIN iterative regression with 6D rotations) reads that latent and outputs θ, β and a root offset, so the body
comes out in the same virtual frame. Supervision:

* 3D joints: the H36M-17 joints regressed from the body's vertices against the labels of the LABELLED subjects
  only (default: S1), root-relative, in the virtual frame (:func:`joint_loss`);
* silhouettes: the body is placed in the world (:func:`place_body`) and rendered by the soft rasteriser (SoftRas,
  Liu et al. 2019) into EVERY view of the frame, against the masks (:func:`silhouette_loss`) — for all training
  subjects, labelled or not; this is the weak, multi-view supervision;
* an optional SMPL prior (HMR's discriminator, :class:`weakpose.priors.smpl_discriminator.SMPLDiscriminator`,
  frozen) on θ and β, plus a small L2 on β.

The encoder is frozen and there is no augmentation, so its latents are computed ONCE for every view of the data
(:func:`encode_dataset`) and training only runs the regressor, the body model and the renderer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from weakpose.evaluation import collate_keep_lists
from weakpose.geometry.camera import Camera
from weakpose.geometry.virtual_camera import virtual_rotation
from weakpose.metrics import mpjpe_per_frame, n_mpjpe_per_frame, p_mpjpe_per_frame
from weakpose.models.smpl_regressor import SMPLRegression, SMPLRegressor
from weakpose.train import TrainTask

__all__ = ["place_body", "joint_loss", "silhouette_loss", "silhouette_iou", "latent_features", "resize_images",
           "scale_intrinsics", "collate_frames", "LatentFrames", "encode_dataset", "SMPLFromEncTask", "BodyPrediction"]


# ---------------------------------------------------------------------------------------------------------------
# geometry and losses


def place_body(vertices_v: torch.Tensor, joints_v: torch.Tensor, R_v: torch.Tensor, root_world: torch.Tensor,
               root_offset: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Put a body predicted in a crop's virtual camera frame into the world.

    ``vertices_v (B, N, 3)`` and ``joints_v (B, 17, 3)`` (H36M-17, joint 0 = pelvis, regressed from the vertices)
    in the virtual frame; ``R_v (B, 3, 3)`` world->virtual rotation; ``root_world (B, 3)`` metres, the point the
    crop is centred on; ``root_offset (B, 3)`` metres in the virtual frame. The body is made root-relative at its
    pelvis, moved by ``root_offset``, rotated to world axes by ``R_vᵀ`` and translated to ``root_world``:
    ``x_world = R_vᵀ (x_v − pelvis_v + root_offset) + root_world``. Returns ``(vertices_world, joints_world)``.
    """
    b = vertices_v.shape[0]
    for name, value, shape in (("joints_v", joints_v, (b, None, 3)), ("R_v", R_v, (b, 3, 3)),
                               ("root_world", root_world, (b, 3)), ("root_offset", root_offset, (b, 3))):
        if value.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, value.shape)):
            raise ValueError(f"place_body: {name} must be {tuple('?' if s is None else s for s in shape)} for "
                             f"vertices {tuple(vertices_v.shape)}; got {tuple(value.shape)}")
    shift = root_offset[:, None] - joints_v[:, :1]

    def to_world(x: torch.Tensor) -> torch.Tensor:
        return (x + shift) @ R_v + root_world[:, None]  # row vectors: (R_vᵀ x)ᵀ = xᵀ R_v

    return to_world(vertices_v), to_world(joints_v)


def joint_loss(pred_h36m17_v: torch.Tensor, target_pose_cam: torch.Tensor, R_look: torch.Tensor,
               has_3d: torch.Tensor) -> torch.Tensor:
    """Root-relative 3D joint loss in the virtual frame, over the labelled samples only.

    ``pred_h36m17_v (B, 17, 3)`` metres in the virtual frame; ``target_pose_cam (B, 17, 3)`` metres in the REAL
    camera frame (root-relative or not); ``R_look (B, 3, 3) = R_v Rᵀ`` takes the real camera frame to the virtual
    one; ``has_3d (B,)`` bool (or 0/1) marks samples whose labels may be used. Both poses are made relative to
    joint 0; the loss is the mean over labelled samples and joints of the SQUARED Euclidean distance (m²).
    Exactly 0 (still attached to the graph) when no sample is labelled.
    """
    if pred_h36m17_v.shape != target_pose_cam.shape or pred_h36m17_v.ndim != 3 or pred_h36m17_v.shape[-1] != 3:
        raise ValueError(f"joint_loss: pred {tuple(pred_h36m17_v.shape)} and target {tuple(target_pose_cam.shape)} "
                         "must both be (B, J, 3)")
    b = pred_h36m17_v.shape[0]
    if R_look.shape != (b, 3, 3) or has_3d.shape != (b,):
        raise ValueError(f"joint_loss: R_look must be ({b}, 3, 3) and has_3d ({b},); got {tuple(R_look.shape)} and "
                         f"{tuple(has_3d.shape)}")
    pred = pred_h36m17_v - pred_h36m17_v[:, :1]
    target = (target_pose_cam - target_pose_cam[:, :1]) @ R_look.transpose(-1, -2)
    per_sample = ((pred - target.to(pred.dtype)) ** 2).sum(-1).mean(-1)
    mask = has_3d.to(torch.bool)
    if not bool(mask.any()):
        return per_sample.sum() * 0.0
    return per_sample[mask].mean()


def silhouette_loss(rendered: torch.Tensor, masks: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Soft silhouettes ``rendered (..., H, W)`` in [0, 1] against mask coverage ``masks`` (same shape, in [0, 1]).

    kind ``'mse'``: mean squared difference over every pixel (the fraction of wrongly covered pixels for binary
    images). ``'iou'``: ``1 − soft IoU`` averaged over the images, soft IoU = Σ r·m / Σ (r + m − r·m) (an empty
    union counts as IoU 1). MSE weighs each image by its body size in pixels; IoU weighs every image alike.
    """
    if rendered.shape != masks.shape or rendered.ndim < 2:
        raise ValueError(f"silhouette_loss: rendered {tuple(rendered.shape)} and masks {tuple(masks.shape)} must be "
                         "the same (..., H, W)")
    masks = masks.to(rendered.dtype)
    if kind == "mse":
        return ((rendered - masks) ** 2).mean()
    if kind == "iou":
        inter = (rendered * masks).sum((-2, -1))
        union = (rendered + masks - rendered * masks).sum((-2, -1))
        iou = torch.where(union > 0, inter / union.clamp_min(1e-12), torch.ones_like(union))
        return (1.0 - iou).mean()
    raise ValueError(f"silhouette_loss: kind must be 'mse' or 'iou', got {kind!r}")


def silhouette_iou(pred_binary: torch.Tensor, mask_binary: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Intersection over union per image ``(...)`` of ``(..., H, W)`` silhouettes, both binarised as ``> threshold``
    (binary inputs pass unchanged). An image where both are empty has IoU 1."""
    if pred_binary.shape != mask_binary.shape or pred_binary.ndim < 2:
        raise ValueError(f"silhouette_iou: shapes {tuple(pred_binary.shape)} and {tuple(mask_binary.shape)} must be "
                         "the same (..., H, W)")
    a, b = pred_binary > threshold, mask_binary > threshold
    inter = (a & b).sum((-2, -1)).double()
    union = (a | b).sum((-2, -1)).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union)).to(torch.float32)


def latent_features(latent) -> torch.Tensor:
    """The regressor's input ``(B, 3·P + A)``: the 3D latent points flattened, then the appearance latent."""
    return torch.cat([latent.points.flatten(1), latent.appearance.flatten(1)], dim=1)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, C, S, S)`` -> ``(B, C, size, size)``: area averaging when shrinking by an integer factor, else
    antialiased bilinear."""
    s = images.shape[-1]
    if s == size:
        return images
    if s > size and s % size == 0:
        return F.interpolate(images, size=(size, size), mode="area")
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def scale_intrinsics(K: torch.Tensor, factor: float) -> torch.Tensor:
    """``K`` of a crop resampled by ``factor`` (new size / old size): focal lengths and principal point scale
    (pixel (x, y) covers [x, x+1) × [y, y+1), so continuous image coordinates simply scale)."""
    K = K.clone()
    K[..., :2, :] *= factor
    return K


# ---------------------------------------------------------------------------------------------------------------
# the latent cache


class LatentFrames(Dataset):
    """Frames with every view's encoder latent precomputed; an item is a dict for ``V`` views:

    ``features`` (V, F), ``mask`` (V, s, s) coverage at the silhouette size s, ``K`` (V, 3, 3) crop intrinsics
    scaled to s, ``R`` (V, 3, 3), ``t`` (V, 3), ``dist`` (V, 5), ``R_v`` (V, 3, 3) world->virtual rotations,
    ``pose_3d`` (V, 17, 3) root-relative real-camera-frame labels, ``root_world`` (3,), ``has_3d`` () bool,
    ``index`` () the frame's index in the source dataset; ``subject``, ``action`` and ``camera`` (list of ids).
    """

    TENSOR_KEYS = ("features", "mask", "K", "R", "t", "dist", "R_v", "pose_3d", "root_world", "has_3d", "index")

    def __init__(self, tensors: Mapping[str, torch.Tensor], subjects: Sequence[str], actions: Sequence[str],
                 cameras: Sequence[Sequence[str]], silhouette_size: int):
        missing = [k for k in self.TENSOR_KEYS if k not in tensors]
        if missing:
            raise KeyError(f"LatentFrames: missing tensors {missing}")
        n = len(tensors["features"])
        bad = {k: tuple(v.shape) for k, v in tensors.items() if len(v) != n}
        if bad or not (len(subjects) == len(actions) == len(cameras) == n):
            raise ValueError(f"LatentFrames: {n} frames of features but other lengths differ: {bad}")
        self.tensors = dict(tensors)
        self.subjects, self.actions, self.cameras = list(subjects), list(actions), [list(c) for c in cameras]
        self.silhouette_size = int(silhouette_size)

    def __len__(self) -> int:
        return len(self.tensors["features"])

    def __getitem__(self, i: int) -> dict:
        item = {k: v[i] for k, v in self.tensors.items()}
        item.update(subject=self.subjects[i], action=self.actions[i], camera=self.cameras[i])
        return item

    def subset(self, keep: Sequence[int]) -> "LatentFrames":
        idx = torch.as_tensor(list(keep), dtype=torch.long)
        return LatentFrames({k: v[idx] for k, v in self.tensors.items()}, [self.subjects[i] for i in keep],
                            [self.actions[i] for i in keep], [self.cameras[i] for i in keep], self.silhouette_size)

    @property
    def feature_size(self) -> int:
        return int(self.tensors["features"].shape[-1])


collate_frames = collate_keep_lists  # tensors stacked, camera-id lists and names kept per sample


@torch.no_grad()
def encode_dataset(encoder: nn.Module, dataset: Dataset, labelled_subjects: Iterable[str] = ("S1",),
                   silhouette_size: int = 64, batch_size: int = 16, device: torch.device | str = "cpu",
                   desc: str = "encode", progress: bool = True) -> LatentFrames:
    """Run the frozen ``encoder`` once over every view of every frame of a
    :class:`weakpose.data.datasets.multiview.MultiViewImageDataset`-like ``dataset`` and keep what training needs.

    Crops are resized to ``encoder.image_size``; masks are area-averaged to ``silhouette_size`` (coverage kept as
    a fraction) and the crop intrinsics scaled to match. ``has_3d`` is True for ``labelled_subjects``.
    """
    labelled = set(labelled_subjects)
    was_training = encoder.training
    encoder.eval()
    size = int(getattr(encoder, "image_size"))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_frames)
    chunks: Dict[str, List[torch.Tensor]] = {k: [] for k in LatentFrames.TENSOR_KEYS}
    subjects: List[str] = []
    actions: List[str] = []
    cameras: List[List[str]] = []
    start = 0
    try:
        for batch in tqdm(loader, desc=desc, disable=not progress, dynamic_ncols=True):
            images = batch["image"]
            if images.ndim != 5 or images.shape[2] != 3:
                raise ValueError(f"encode_dataset: sample 'image' must be (V, 3, S, S); got {tuple(images.shape[1:])}")
            b, v, _, s, _ = images.shape
            crops = resize_images(images.reshape(b * v, 3, s, s), size).to(device)
            feats = latent_features(encoder.encode(crops)).float().cpu().reshape(b, v, -1)
            chunks["features"].append(feats)
            chunks["mask"].append(resize_images(batch["mask"].reshape(b * v, 1, s, s).float(), silhouette_size)
                                  .reshape(b, v, silhouette_size, silhouette_size))
            chunks["K"].append(scale_intrinsics(batch["K"], silhouette_size / s))
            for k in ("R", "t", "dist", "pose_3d", "root_world"):
                chunks[k].append(batch[k].float())
            chunks["R_v"].append(virtual_rotation(batch["R"].double(), batch["t"].double(),
                                                  batch["root_world"].double()[:, None]).float())
            chunks["has_3d"].append(torch.tensor([s_ in labelled for s_ in batch["subject"]]))
            chunks["index"].append(torch.arange(start, start + b))
            start += b
            subjects += list(batch["subject"])
            actions += list(batch["action"])
            cameras += [list(c) for c in _per_sample_cameras(batch["camera"], b)]
    finally:
        encoder.train(was_training)
    if not subjects:
        raise ValueError("encode_dataset: the dataset is empty")
    tensors = {k: torch.cat(v) for k, v in chunks.items()}
    return LatentFrames(tensors, subjects, actions, cameras, silhouette_size)


def _per_sample_cameras(cams: Any, b: int) -> List[List[str]]:
    """Camera ids per sample from a batch (our collate keeps one list per sample)."""
    if len(cams) == b and all(isinstance(c, (list, tuple)) for c in cams):
        return [list(map(str, c)) for c in cams]
    return [list(map(str, c)) for c in zip(*cams)]  # torch's default collate transposes lists


# ---------------------------------------------------------------------------------------------------------------
# the task


@dataclass
class BodyPrediction:
    """Bodies regressed from P input views (P = B·k).

    regression: the :class:`SMPLRegression`; joints_v ``(P, 17, 3)`` H36M-17 in the input view's virtual frame;
    vertices_world / joints_world ``(P, N, 3)`` / ``(P, 17, 3)`` placed in the world; frame ``(P,)`` index of the
    frame in the batch and view ``(P,)`` index of the input view.
    """

    regression: SMPLRegression
    joints_v: torch.Tensor
    vertices_world: torch.Tensor
    joints_world: torch.Tensor
    frame: torch.Tensor
    view: torch.Tensor


class SMPLFromEncTask(TrainTask):
    """Regressor training on cached latents (:class:`LatentFrames` batches), see the module docstring.

    Args:
        regressor: the :class:`SMPLRegressor` trained here (the only trainable module and checkpointed state).
        body: a :class:`weakpose.body.BodyModel` with an H36M regressor (default ``BodyModel.default(10)``).
        prior: an optional frozen SMPL prior with ``.loss(body_pose (P, 23, 3, 3), betas (P, 10))``.
        lr, weight_decay: Adam.
        weight_joints (per m²), weight_silhouette, weight_prior, weight_betas: loss weights.
        silhouette_kind: ``'mse'`` or ``'iou'`` (:func:`silhouette_loss`); sigma: soft rasteriser sharpness, px²
            at the silhouette size.
        input_views: views of each training frame used as INPUT per step (each prediction is rendered into all
            views); 0 = all. Picked at random per frame (resumable: the Trainer restores the RNG).
    The body, the renderer and the prior are not checkpointed (their weights come from their own files).
    Logged: ``loss``, ``loss_joints``, ``loss_silhouette``, ``loss_prior``, ``loss_betas``, ``iou_soft`` (soft
    render thresholded at 0.5), ``labelled`` (fraction of inputs with 3D labels). Validation: ``mpjpe``,
    ``p_mpjpe``, ``n_mpjpe`` (metres, every view as input, H36M-17 from the vertices vs the labels) and ``iou``
    (hard-rasterised body in every view vs mask > 0.5).
    """

    def __init__(self, regressor: SMPLRegressor, body: Optional[nn.Module] = None, prior: Optional[nn.Module] = None,
                 lr: float = 5e-5, weight_decay: float = 0.0, weight_joints: float = 10.0,
                 weight_silhouette: float = 1.0, weight_prior: float = 1.0, weight_betas: float = 1e-3,
                 silhouette_kind: str = "iou", sigma: float = 0.1, input_views: int = 1):
        from weakpose.body import BodyModel
        from weakpose.render import HardRasterizer, SoftRasterizer

        self.regressor = regressor
        self.optimizer = torch.optim.Adam(regressor.parameters(), lr=lr, weight_decay=weight_decay)
        self._body = body if body is not None else BodyModel.default(num_betas=regressor.num_betas)
        if not getattr(self._body, "has_h36m_regressor", False):
            raise ValueError("SMPLFromEncTask: the body model has no H36M-17 regressor (J_regressor_h36m)")
        if self._body.num_betas != regressor.num_betas:
            raise ValueError(f"SMPLFromEncTask: body model has {self._body.num_betas} betas, regressor "
                             f"{regressor.num_betas}")
        self._prior = prior
        if prior is not None:
            prior.eval().requires_grad_(False)
        silhouette_loss(torch.zeros(1, 1), torch.zeros(1, 1), silhouette_kind)  # validates the kind now
        self.silhouette_kind = silhouette_kind
        self._soft = SoftRasterizer(sigma=sigma)
        self._hard = HardRasterizer()
        self.weights = dict(joints=float(weight_joints), silhouette=float(weight_silhouette),
                            prior=float(weight_prior), betas=float(weight_betas))
        if input_views < 0:
            raise ValueError(f"input_views must be >= 0 (0 = all), got {input_views}")
        self.input_views = int(input_views)

    # -- devices -----------------------------------------------------------------------------------------------
    def to(self, device) -> "SMPLFromEncTask":
        super().to(device)
        self._body.to(device)
        if self._prior is not None:
            self._prior.to(device)
        return self

    @property
    def body(self) -> nn.Module:
        return self._body

    @property
    def prior(self) -> Optional[nn.Module]:
        return self._prior

    # -- forward -----------------------------------------------------------------------------------------------
    def predict(self, batch: Mapping[str, Any], frame: torch.Tensor, view: torch.Tensor) -> BodyPrediction:
        """Regress bodies from the inputs ``(frame[i], view[i])`` of a :class:`LatentFrames` batch and place them."""
        feats = batch["features"][frame, view]
        reg = self.regressor(feats)
        out = self._body(betas=reg.betas, global_orient=reg.rotmat[:, 0], body_pose=reg.rotmat[:, 1:],
                         pose_type="matrix")
        verts_w, joints_w = place_body(out.vertices, out.joints_h36m17, batch["R_v"][frame, view],
                                       batch["root_world"][frame], reg.root_offset)
        return BodyPrediction(reg, out.joints_h36m17, verts_w, joints_w, frame, view)

    def _inputs(self, b: int, v: int, device, all_views: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        k = v if (all_views or self.input_views == 0 or self.input_views >= v) else self.input_views
        if k == v:
            view = torch.arange(v, device=device).repeat(b)
        else:
            view = torch.rand(b, v).argsort(dim=1)[:, :k].reshape(-1).to(device)
        frame = torch.arange(b, device=device).repeat_interleave(k)
        return frame, view

    def _all_view_cameras(self, batch: Mapping[str, Any], frame: torch.Tensor) -> Camera:
        """Cameras ``(P·V)`` of every view of each prediction's frame, at the silhouette size."""
        s = batch["mask"].shape[-1]
        flat = lambda x: x[frame].reshape(-1, *x.shape[2:])  # noqa: E731
        return Camera(R=flat(batch["R"]), t=flat(batch["t"]), K=flat(batch["K"]), dist=flat(batch["dist"]),
                      image_size=(s, s))

    def _target_pose(self, batch, frame, view):
        R_look = batch["R_v"][frame, view] @ batch["R"][frame, view].transpose(-1, -2)
        return batch["pose_3d"][frame, view], R_look

    def losses(self, batch: Mapping[str, Any], pred: BodyPrediction) -> Dict[str, torch.Tensor]:
        """Every loss term (unweighted) of predictions ``pred`` from ``batch``, plus the rendered silhouettes."""
        frame, view = pred.frame, pred.view
        v = batch["mask"].shape[1]
        target, R_look = self._target_pose(batch, frame, view)
        terms = {"joints": joint_loss(pred.joints_v, target, R_look, batch["has_3d"][frame])}
        masks = batch["mask"][frame].reshape(-1, *batch["mask"].shape[-2:])
        if self.weights["silhouette"] > 0 or not torch.is_grad_enabled():
            verts = pred.vertices_world.repeat_interleave(v, dim=0)
            sil = self._soft.silhouette(verts, self._body.faces, self._all_view_cameras(batch, frame))
            terms["silhouette"] = silhouette_loss(sil, masks, self.silhouette_kind)
        else:  # not rendered when it does not count (training with weight_silhouette=0)
            sil = torch.full_like(masks, float("nan"))
            terms["silhouette"] = sil.new_tensor(float("nan"))
        reg = pred.regression
        if self._prior is not None:
            terms["prior"] = self._prior.loss(reg.rotmat[:, 1:], reg.betas)
        terms["betas"] = (reg.betas ** 2).mean()
        terms["_sil"], terms["_masks"] = sil, masks
        return terms

    def training_step(self, batch: Mapping[str, Any], step: int) -> Mapping[str, Any]:
        b, v = batch["features"].shape[:2]
        frame, view = self._inputs(b, v, batch["features"].device, all_views=False)
        terms = self.losses(batch, self.predict(batch, frame, view))
        loss = terms["joints"] * 0.0  # a zero that keeps the graph, should every weight be 0
        for k, t in terms.items():
            if not k.startswith("_") and self.weights[k] > 0:
                loss = loss + self.weights[k] * t
        self.optimizer_step(self.optimizer, loss)
        out = {"loss": float(loss.detach()), "labelled": float(batch["has_3d"][frame].float().mean())}
        if self.weights["silhouette"] > 0:
            out["iou_soft"] = float(silhouette_iou(terms["_sil"].detach(), terms["_masks"]).mean())
        out.update({f"loss_{k}": float(t.detach()) for k, t in terms.items() if not k.startswith("_")})
        return out

    # -- evaluation --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate_batch(self, batch: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
        """Every view of every frame as input: per prediction ``(B, V)`` the H36M-17 joints ``pred_cam`` /
        ``target_cam`` (B, V, 17, 3) root-relative in the REAL camera frame, and ``iou`` (B, V, V): the hard
        silhouette of the body predicted from view i seen in view j vs the mask (> 0.5)."""
        b, v = batch["features"].shape[:2]
        frame, view = self._inputs(b, v, batch["features"].device, all_views=True)
        pred = self.predict(batch, frame, view)
        target, R_look = self._target_pose(batch, frame, view)
        joints = pred.joints_v - pred.joints_v[:, :1]
        pred_cam = joints @ R_look  # virtual -> real camera: R_lookᵀ x, as rows
        sil = self._hard.silhouette(pred.vertices_world.repeat_interleave(v, dim=0), self._body.faces,
                                    self._all_view_cameras(batch, frame))
        masks = batch["mask"][frame].reshape(sil.shape)
        iou = silhouette_iou(sil, masks).reshape(b, v, v)
        return {"pred_cam": pred_cam.reshape(b, v, -1, 3), "target_cam": (target - target[:, :1]).reshape(b, v, -1, 3),
                "iou": iou, "vertices_world": pred.vertices_world.reshape(b, v, -1, 3)}

    def validation_step(self, batch: Mapping[str, Any]) -> Mapping[str, Any]:
        out = self.evaluate_batch(batch)
        p, g = out["pred_cam"].reshape(-1, 17, 3).double(), out["target_cam"].reshape(-1, 17, 3).double()
        return {"mpjpe": float(mpjpe_per_frame(p, g).mean()), "p_mpjpe": float(p_mpjpe_per_frame(p, g).mean()),
                "n_mpjpe": float(n_mpjpe_per_frame(p, g).mean()), "iou": float(out["iou"].mean())}

    @torch.no_grad()
    def evaluate(self, frames: LatentFrames, batch_size: int = 16, progress: bool = True, desc: str = "evaluate"):
        """Predict every view of ``frames``; returns ``(views, iou)``: ``views`` maps (subject, action, camera) to
        ``(pred, target)`` arrays ``(N, 17, 3)`` root-relative camera-frame metres (for
        :func:`weakpose.evaluation.report`) and ``iou`` is an ``(F, V, V)`` array (input view i, seen in j)."""
        self.eval()
        views: Dict[Tuple[str, str, str], Tuple[list, list]] = {}
        ious = []
        loader = DataLoader(frames, batch_size=batch_size, shuffle=False, collate_fn=collate_frames)
        for batch in tqdm(loader, desc=desc, disable=not progress, dynamic_ncols=True):
            moved = {k: (x.to(self.device) if isinstance(x, torch.Tensor) else x) for k, x in batch.items()}
            out = self.evaluate_batch(moved)
            pred, target = out["pred_cam"].cpu().numpy(), out["target_cam"].cpu().numpy()
            ious.append(out["iou"].cpu().numpy())
            for i, (subject, action, cams) in enumerate(zip(batch["subject"], batch["action"], batch["camera"])):
                for j, cam in enumerate(cams):
                    p, t = views.setdefault((subject, action, cam), ([], []))
                    p.append(pred[i, j])
                    t.append(target[i, j])
        return {k: (np.stack(p), np.stack(t)) for k, (p, t) in views.items()}, np.concatenate(ious)
