"""Train an SMPL regressor on the latent of a frozen multi-view encoder (Rhodin et al., ECCV 2018).

The encoder (:class:`weakpose.models.encoder_decoder.EncoderDecoder`, trained without labels by novel-view
synthesis) maps a root-centred crop to a 3D latent in the crop's VIRTUAL camera frame (the real camera turned to
look at the root, :mod:`weakpose.geometry.virtual_camera`). A :class:`weakpose.models.smpl_regressor.SMPLRegressor`
(HMR/SPIN iterative regression with 6D rotations) reads that latent and outputs θ, β and a root offset, so the body
comes out in the same virtual frame. Supervision:

* 3D joints: the H36M-17 joints regressed from the body's vertices against the labels of the LABELLED subjects
  only (default: S1), root-relative, in the virtual frame (:func:`weakpose.losses.body.joint_loss`);
* silhouettes: the body is placed in the world (:func:`weakpose.geometry.virtual_camera.place_body`) and rendered
  by the soft rasteriser (SoftRas, Liu et al. 2019) into EVERY view of the frame, against the masks
  (:func:`weakpose.losses.body.silhouette_loss`) — for all training subjects, labelled or not; this is the weak,
  multi-view supervision;
* an optional SMPL prior (HMR's discriminator, here a critic: :class:`weakpose.priors.smpl_critic.SMPLCritic`,
  frozen) on θ and β, plus a small L2 on β.

The encoder is frozen and there is no augmentation, so its latents are computed ONCE for every view of the data
(:func:`weakpose.data.datasets.latents.encode_frames`) and training only runs the regressor, the body model and
the renderer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from weakpose.data.datasets.latents import LatentFrames, collate_frames
from weakpose.geometry.camera import Camera
from weakpose.geometry.virtual_camera import place_body
from weakpose.losses import joint_loss, silhouette_loss
from weakpose.metrics import mpjpe_per_frame, n_mpjpe_per_frame, p_mpjpe_per_frame, silhouette_iou
from weakpose.models.smpl_regressor import SMPLRegression, SMPLRegressor
from weakpose.train import TrainTask

__all__ = ["SMPLFromEncTask", "BodyPrediction", "LossConfig", "OptimConfig"]


# The task's config sections (sample/train_SMPL_from_enc.py's ``loss`` and ``optim``): every default is written
# here once; SMPLFromEncTask's keyword defaults and :meth:`SMPLFromEncTask.from_config` read them.
@dataclasses.dataclass
class LossConfig:
    """weight_joints multiplies a mean squared joint distance in m²; silhouette_kind 'mse' | 'iou'; sigma: the
    soft rasteriser's sharpness in px² at the silhouette size; input_views: views used as input per training frame
    (each prediction is rendered into all views; 0 = all)."""

    weight_joints: float = 10.0  # mean squared joint distance (m^2) against the labelled subjects' 3D
    weight_silhouette: float = 1.0
    weight_prior: float = 1.0
    weight_betas: float = 1e-3  # squared betas (shape regularisation)
    use_prior: bool = True  # add the SMPL prior of model.prior_path when that file exists
    silhouette_kind: str = "iou"  # iou | mse
    sigma: float = 0.1  # soft rasteriser sharpness, px^2 at the silhouette size
    input_views: int = 1  # views used as input per training frame (0 = all)


@dataclasses.dataclass
class OptimConfig:
    lr: float = 5e-5  # Adam step size
    weight_decay: float = 0.0


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
        lr, weight_decay: Adam (defaults: :class:`OptimConfig`; the loss settings' defaults: :class:`LossConfig`;
            :meth:`from_config` takes both sections whole).
        weight_joints (per m²), weight_silhouette, weight_prior, weight_betas: loss weights.
        silhouette_kind: ``'mse'`` or ``'iou'`` (:func:`weakpose.losses.body.silhouette_loss`); sigma: soft
            rasteriser sharpness, px² at the silhouette size.
        input_views: views of each training frame used as INPUT per step (each prediction is rendered into all
            views); 0 = all. Picked at random per frame (resumable: the Trainer restores the RNG).
    The body, the renderer and the prior are not checkpointed (their weights come from their own files).
    Logged: ``loss``, ``loss_joints``, ``loss_silhouette``, ``loss_prior``, ``loss_betas``, ``iou_soft`` (soft
    render thresholded at 0.5), ``labelled`` (fraction of inputs with 3D labels). Validation: ``mpjpe``,
    ``p_mpjpe``, ``n_mpjpe`` (metres, every view as input, H36M-17 from the vertices vs the labels) and ``iou``
    (hard-rasterised body in every view vs mask > 0.5).
    """

    def __init__(
        self,
        regressor: SMPLRegressor,
        body: Optional[nn.Module] = None,
        prior: Optional[nn.Module] = None,
        lr: float = OptimConfig.lr,
        weight_decay: float = OptimConfig.weight_decay,
        weight_joints: float = LossConfig.weight_joints,
        weight_silhouette: float = LossConfig.weight_silhouette,
        weight_prior: float = LossConfig.weight_prior,
        weight_betas: float = LossConfig.weight_betas,
        silhouette_kind: str = LossConfig.silhouette_kind,
        sigma: float = LossConfig.sigma,
        input_views: int = LossConfig.input_views,
    ):
        from weakpose.body import BodyModel
        from weakpose.render import HardRasterizer, SoftRasterizer

        self.regressor = regressor
        self.optimizer = torch.optim.Adam(regressor.parameters(), lr=lr, weight_decay=weight_decay)
        self._body = body if body is not None else BodyModel.default(num_betas=regressor.num_betas)
        if not getattr(self._body, "has_h36m_regressor", False):
            raise ValueError("SMPLFromEncTask: the body model has no H36M-17 regressor (J_regressor_h36m)")
        if self._body.num_betas != regressor.num_betas:
            raise ValueError(
                f"SMPLFromEncTask: body model has {self._body.num_betas} betas, regressor {regressor.num_betas}"
            )
        self._prior = prior
        if prior is not None:
            prior.eval().requires_grad_(False)
        silhouette_loss(torch.zeros(1, 1), torch.zeros(1, 1), silhouette_kind)  # validates the kind now
        self.silhouette_kind = silhouette_kind
        self._soft = SoftRasterizer(sigma=sigma)
        self._hard = HardRasterizer()
        self.weights = dict(
            joints=float(weight_joints),
            silhouette=float(weight_silhouette),
            prior=float(weight_prior),
            betas=float(weight_betas),
        )
        if input_views < 0:
            raise ValueError(f"input_views must be >= 0 (0 = all), got {input_views}")
        self.input_views = int(input_views)

    @classmethod
    def from_config(
        cls,
        regressor: SMPLRegressor,
        body: Optional[nn.Module] = None,
        prior: Optional[nn.Module] = None,
        *,
        loss: Optional[LossConfig] = None,
        optim: Optional[OptimConfig] = None,
    ) -> "SMPLFromEncTask":
        """The task from its config sections (a section left out: its defaults). ``loss.use_prior`` is the caller's
        business: pass ``prior`` or not."""
        loss, optim = loss or LossConfig(), optim or OptimConfig()
        return cls(
            regressor,
            body=body,
            prior=prior,
            lr=optim.lr,
            weight_decay=optim.weight_decay,
            weight_joints=loss.weight_joints,
            weight_silhouette=loss.weight_silhouette,
            weight_prior=loss.weight_prior,
            weight_betas=loss.weight_betas,
            silhouette_kind=loss.silhouette_kind,
            sigma=loss.sigma,
            input_views=loss.input_views,
        )

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
        out = self._body(
            betas=reg.betas, global_orient=reg.rotmat[:, 0], body_pose=reg.rotmat[:, 1:], pose_type="matrix"
        )
        verts_w, joints_w = place_body(
            out.vertices, out.joints_h36m17, batch["R_v"][frame, view], batch["root_world"][frame], reg.root_offset
        )
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
        return Camera(
            R=flat(batch["R"]), t=flat(batch["t"]), K=flat(batch["K"]), dist=flat(batch["dist"]), image_size=(s, s)
        )

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
        terms["betas"] = (reg.betas**2).mean()
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
        sil = self._hard.silhouette(
            pred.vertices_world.repeat_interleave(v, dim=0), self._body.faces, self._all_view_cameras(batch, frame)
        )
        masks = batch["mask"][frame].reshape(sil.shape)
        iou = silhouette_iou(sil, masks).reshape(b, v, v)
        return {
            "pred_cam": pred_cam.reshape(b, v, -1, 3),
            "target_cam": (target - target[:, :1]).reshape(b, v, -1, 3),
            "iou": iou,
            "vertices_world": pred.vertices_world.reshape(b, v, -1, 3),
        }

    def validation_step(self, batch: Mapping[str, Any]) -> Mapping[str, Any]:
        out = self.evaluate_batch(batch)
        p, g = out["pred_cam"].reshape(-1, 17, 3).double(), out["target_cam"].reshape(-1, 17, 3).double()
        return {
            "mpjpe": float(mpjpe_per_frame(p, g).mean()),
            "p_mpjpe": float(p_mpjpe_per_frame(p, g).mean()),
            "n_mpjpe": float(n_mpjpe_per_frame(p, g).mean()),
            "iou": float(out["iou"].mean()),
        }

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
