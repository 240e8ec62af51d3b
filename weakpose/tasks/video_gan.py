"""Temporal-convolution lifting with a decoupled root, weakly supervised by reprojection and a pose critic.

Pavllo et al. 2019 (VideoPose3D) train a dilated TCN on 2D sequences: a pose network gives root-relative 3D, a
trajectory network the camera-frame root, and for unlabelled video their sum is projected through the known
intrinsics and compared with the 2D input (plus a bone-length term). Here a RepNet-style critic (KCS, WGAN-GP;
Wandt & Rosenhahn 2019) on the lifted poses stands in for 3D labels, so three supervision settings run through
one task:

* ``full``: every training sample's 3D label (MPJPE on the pose, 1/z-weighted error on the root);
* ``semi``: 3D labels of the labelled subjects only; the others get reprojection + bone lengths + the critic;
* ``gan``: no 3D labels at all: reprojection + the critic, whose "real" poses are an *unpaired* pool (poses in a
  random order, never the ones behind the batch's 2D).

Per step: ``n_critic`` critic updates (WGAN-GP, λ = 10, Adam 1e-4, β = (0.5, 0.9)), then one lifter update.

Optionally a second critic judges MOTION (:class:`weakpose.priors.temporal_critic.TemporalPoseCritic`, VIBE's
motion discriminator as a critic over RepNet features): it reads windows of ``T`` consecutive lifted poses and is
trained against real ``T``-frame windows of 3D poses, so the lifter is pushed away from jitter and bone-length
drift that a per-frame critic cannot see. See :meth:`VideoGanTask.consecutive_poses` for how the windows are made.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, List, Literal, Optional

import torch

from weakpose.geometry.camera import flip_screen_intrinsics, reproject
from weakpose.metrics import mpjpe, mpjpe_per_frame, p_mpjpe, p_mpjpe_per_frame
from weakpose.models.temporal import TemporalLifter, TrajectoryModel
from weakpose.priors import PoseCritic
from weakpose.priors.temporal_critic import TemporalPoseCritic
from weakpose.priors.wgan import critic_gap, critic_loss, generator_loss, gradient_penalty, make_optimizer
from weakpose.skeleton import H36M17, bone_lengths, flip_joints
from weakpose.train import TrainTask

SUPERVISION = ("full", "semi", "gan")


# The task's config sections (sample/train_video_gan.py's ``model``, ``loss``, ``optim`` and ``augment``): every
# default is written here once; VideoGanTask's keyword defaults and :meth:`VideoGanTask.from_config` read them.
@dataclasses.dataclass
class ModelConfig:
    filter_widths: List[int] = dataclasses.field(default_factory=lambda: [3, 3, 3])  # 27 frames; [3,3,3,3,3]: 243
    channels: int = 256  # the published design uses 1024; 256 keeps the CPU default to a few minutes
    dropout: float = 0.25
    causal: bool = False  # only past frames (live video); False: a window centred on each frame
    training_twin: bool = True  # False: the dilated network on training windows (same numbers, slower; for bench)
    # Full supervision only: "chunked" trains the dilated network on chunks of chunk_frames consecutive outputs
    # (overlapping windows share their features); "twin" the strided twin on single windows; "auto" picks by
    # receptive field (CHUNKED_FROM in sample/train_video_gan.py: the twin everywhere so far; bench/README.md says
    # why). train.batch_size counts output frames either way (chunks per step = batch_size / chunk_frames).
    training: Literal["auto", "twin", "chunked"] = "auto"  # full supervision: strided twin | chunks | auto
    chunk_frames: int = 128  # outputs per chunk with training=chunked
    # The decoupled root (Pavllo et al.): "auto" trains it where its output is used (gan/semi reprojection) and
    # not under full supervision, where it would double the compute for an output nobody reads; "on" also trains
    # it then (absolute camera-frame output; saved inside lifter.pt).
    trajectory: Literal["auto", "on", "off"] = "auto"  # the decoupled root: auto = where reprojection uses it


@dataclasses.dataclass
class LossConfig:
    # gan: no 3D labels; semi: 3D of data.labelled_subjects plus the weak losses; full: every subject's 3D
    supervision: Literal["gan", "semi", "full"] = "gan"  # gan | semi | full (what the lifter learns from)
    weight_adversarial: float = 0.05  # the per-frame KCS critic's term
    weight_reprojection: float = 1.0  # pose + root reprojected through the known intrinsics
    weight_bone: float = 1.0  # bone lengths of unlabelled poses against the labelled ones (semi)
    temporal_critic: bool = False  # a critic of motion windows besides the per-frame one (not with "full")
    weight_temporal: float = 0.05  # the motion critic's term
    temporal_window: int = 9  # odd: consecutive frames per motion window
    temporal_batch: int = 16  # windows per step lifted to temporal_window frames (each costs that many)
    temporal_channels: int = 128  # 256 costs ~0.08 s more per step on one CPU thread


@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-3  # Adam step size of the lifter (and the critics)
    lr_decay: float = 0.95  # the learning rate is multiplied by this every decay_every steps
    decay_every: int = 200
    n_critic: int = 3  # critic steps per lifter step


@dataclasses.dataclass
class AugmentConfig:
    flip: bool = True  # left/right mirror of training windows (2D and 3D together)


class VideoGanTask(TrainTask):
    """Train ``pose_model`` + ``trajectory_model`` (same filter widths) on windows from a PoseWindowDataset.

    ``trajectory_model=None`` trains the pose network alone: only with ``supervision="full"``, where nothing
    reprojects (the root is then neither trained nor predicted; half the compute of the pair).

    labelled_subject_ids: ``subject_id`` values whose 3D labels may be used (``semi``); real_poses: ``(N, 17, 3)``
    root-relative camera-frame metres, the critic's unpaired real pool.

    Optional motion critic: ``temporal_critic`` with ``real_windows`` ``(N, T, 17, 3)`` (root-relative, camera
    frame, consecutive frames at the 2D's frame rate, unpaired like ``real_poses``), weight ``temporal_weight`` and
    ``temporal_batch`` windows of each batch lifted to ``T`` consecutive poses. The training batches must then hold
    ``rf + T - 1`` frames of 2D (``T`` odd; :meth:`window_frames`); validation batches keep ``rf``.
    """

    # The critics' gradient penalty differentiates through them twice; DDP cannot wrap that, so their gradients
    # are averaged over ranks by optimizer_step instead.
    ddp_exclude = ("critic", "temporal_critic")

    def __init__(
        self,
        pose_model: TemporalLifter,
        trajectory_model: Optional[TrajectoryModel],
        critic: Optional[PoseCritic],
        supervision: str,
        real_poses: Optional[torch.Tensor] = None,
        labelled_subject_ids: Iterable[int] = (),
        lr: float = OptimConfig.lr,
        lr_decay: float = OptimConfig.lr_decay,
        decay_every: int = OptimConfig.decay_every,
        n_critic: int = OptimConfig.n_critic,
        w_adv: float = LossConfig.weight_adversarial,
        w_reproj: float = LossConfig.weight_reprojection,
        w_bone: float = LossConfig.weight_bone,
        flip_augmentation: bool = AugmentConfig.flip,
        training_twin: bool = ModelConfig.training_twin,
        temporal_critic: Optional[TemporalPoseCritic] = None,
        real_windows: Optional[torch.Tensor] = None,
        temporal_weight: float = LossConfig.weight_temporal,
        temporal_batch: int = LossConfig.temporal_batch,
        chunk_frames: int = 1,
    ):
        if supervision not in SUPERVISION:
            raise ValueError(f"supervision must be one of {SUPERVISION}; got {supervision!r}")
        if trajectory_model is None and supervision != "full":
            raise ValueError(f"supervision={supervision!r} reprojects pose + root: it needs the trajectory model")
        if trajectory_model is not None and pose_model.receptive_field() != trajectory_model.receptive_field():
            raise ValueError("pose and trajectory models need the same receptive field")
        if supervision != "full" and (critic is None or real_poses is None or len(real_poses) == 0):
            raise ValueError(f"supervision={supervision!r} needs a critic and a non-empty real pose pool")
        self.pose_model = pose_model
        self.trajectory_model = trajectory_model
        self.critic = critic
        self.supervision = supervision
        self.real_poses = None if real_poses is None else torch.as_tensor(real_poses, dtype=torch.float32)
        self.labelled = torch.as_tensor(sorted(set(int(i) for i in labelled_subject_ids)), dtype=torch.long)
        params = list(pose_model.parameters()) + (list(trajectory_model.parameters()) if trajectory_model else [])
        self.optimizer = torch.optim.Adam(params, lr=lr, amsgrad=True)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=decay_every, gamma=lr_decay)
        self.critic_optimizer = make_optimizer(critic.parameters()) if critic is not None else None
        self.n_critic, self.w_adv, self.w_reproj, self.w_bone = int(n_critic), w_adv, w_reproj, w_bone
        self.flip_augmentation = flip_augmentation
        # False runs the dilated inference network on the training windows (a straightforward implementation of
        # the published design): the same numbers, slower; kept to measure what the strided twin buys.
        self.training_twin = training_twin
        self.centre = pose_model.frame_offset
        self.temporal_critic = temporal_critic
        self.temporal_window = 1
        self.real_windows = self.temporal_critic_optimizer = None
        if temporal_critic is not None:
            if supervision == "full":
                raise ValueError("supervision='full' has no windows without 3D labels for the temporal critic")
            rw = None if real_windows is None else torch.as_tensor(real_windows, dtype=torch.float32)
            if rw is None or rw.ndim != 4 or rw.shape[0] == 0 or rw.shape[2:] != (17, 3):
                raise ValueError(
                    "a temporal critic needs real_windows of shape (N, T, 17, 3), N > 0; got "
                    f"{None if rw is None else tuple(rw.shape)}"
                )
            if temporal_critic.window not in (None, rw.shape[1]) or rw.shape[1] % 2 == 0:
                raise ValueError(
                    f"real_windows of {rw.shape[1]} frames: the window must be odd (2D windows of "
                    f"rf + T - 1 frames) and match the temporal critic's ({temporal_critic.window})"
                )
            if int(temporal_batch) < 1:
                raise ValueError(f"temporal_batch must be >= 1; got {temporal_batch}")
            self.real_windows, self.temporal_window = rw, int(rw.shape[1])
            self.temporal_critic_optimizer = make_optimizer(temporal_critic.parameters())
        self.temporal_weight, self.temporal_batch = temporal_weight, int(temporal_batch)
        # Chunked training: batches of chunks of L consecutive outputs (PoseWindowDataset(chunk_frames=L)), lifted
        # by the dilated network in one pass so overlapping windows share their features. Labels only: the weak
        # losses (reprojection, critics) are defined per window.
        self.chunk_frames = int(chunk_frames)
        if self.chunk_frames < 1 or (self.chunk_frames > 1 and supervision != "full"):
            raise ValueError(f"chunk_frames={chunk_frames}: chunked training (> 1) is for supervision='full'")

    @classmethod
    def from_config(
        cls,
        pose_model: TemporalLifter,
        trajectory_model: Optional[TrajectoryModel],
        critic: Optional[PoseCritic],
        *,
        model: Optional[ModelConfig] = None,
        loss: Optional[LossConfig] = None,
        optim: Optional[OptimConfig] = None,
        augment: Optional[AugmentConfig] = None,
        real_poses: Optional[torch.Tensor] = None,
        labelled_subject_ids: Iterable[int] = (),
        temporal_critic: Optional[TemporalPoseCritic] = None,
        real_windows: Optional[torch.Tensor] = None,
        chunk_frames: int = 1,
    ) -> "VideoGanTask":
        """The task from its config sections (a section left out: its defaults). ``chunk_frames`` is the chunk
        length actually trained (1: single windows), which the caller picks from ``model.training``."""
        model, loss = model or ModelConfig(), loss or LossConfig()
        optim, augment = optim or OptimConfig(), augment or AugmentConfig()
        return cls(
            pose_model,
            trajectory_model,
            critic,
            loss.supervision,
            real_poses=real_poses,
            labelled_subject_ids=labelled_subject_ids,
            lr=optim.lr,
            lr_decay=optim.lr_decay,
            decay_every=optim.decay_every,
            n_critic=optim.n_critic,
            w_adv=loss.weight_adversarial,
            w_reproj=loss.weight_reprojection,
            w_bone=loss.weight_bone,
            flip_augmentation=augment.flip,
            training_twin=model.training_twin,
            temporal_critic=temporal_critic,
            real_windows=real_windows,
            temporal_weight=loss.weight_temporal,
            temporal_batch=loss.temporal_batch,
            chunk_frames=chunk_frames,
        )

    # -- pieces ---------------------------------------------------------------------------------------------
    @staticmethod
    def root_from_output(raw: torch.Tensor) -> torch.Tensor:
        """Trajectory output -> camera-frame root (:meth:`TrajectoryModel.to_root`, kept here for callers)."""
        return TrajectoryModel.to_root(raw)

    @staticmethod
    def reprojection_error(
        pose: torch.Tensor,
        root: torch.Tensor,
        intrinsics: torch.Tensor,
        target_2d: torch.Tensor,
        min_depth: float = 0.5,
        max_error: float = 1.0,
    ) -> torch.Tensor:
        """Mean per-joint distance (normalised screen units) between the projection of pose + root and the 2D.

        Unlabelled early predictions can put joints at or behind the camera, where a projection divides by ~0 and
        one batch's gradient wrecks the network: joint depths are kept ``min_depth`` metres in front of the camera
        and each joint's error is capped at ``max_error`` (half an image width), which bounds the gradients
        without changing the loss of sensible poses.
        """
        z_floor = (min_depth - root[..., 2:3]).unsqueeze(-2)  # (B, 1, 1): lowest root-relative depth allowed
        pose = torch.cat([pose[..., :2], torch.maximum(pose[..., 2:], z_floor)], dim=-1)
        err = (reproject(pose, root, intrinsics) - target_2d).norm(dim=-1)
        return err.clamp(max=max_error).mean()

    def _labelled_mask(self, batch) -> torch.Tensor:
        n = batch["keypoints_2d"].shape[0]
        if self.supervision == "full":
            return torch.ones(n, dtype=torch.bool, device=batch["keypoints_2d"].device)
        if self.supervision == "gan" or len(self.labelled) == 0:
            return torch.zeros(n, dtype=torch.bool, device=batch["keypoints_2d"].device)
        return torch.isin(batch["subject_id"], self.labelled.to(batch["subject_id"].device))

    def window_frames(self) -> int:
        """2D frames per training window: the receptive field, plus ``T - 1`` with a temporal critic, plus ``L - 1``
        for chunks of ``L`` outputs."""
        return self.pose_model.receptive_field() + self.temporal_window - 1 + self.chunk_frames - 1

    def _chunk_step(self, batch) -> dict:
        """Full supervision on chunks: the dilated network lifts every chunk's L outputs in one pass; the MPJPE
        is taken over the outputs inside their sequence (``target_valid``), plus the root error with a trajectory
        model."""
        kp = batch["keypoints_2d"]
        valid = batch["target_valid"].to(kp.device)
        pred = self.pose_model(kp)  # (B, L, 17, 3)
        loss = sup = mpjpe(pred[valid], batch["pose_3d"][valid])
        out = {"loss_mpjpe": sup.detach()}
        if self.trajectory_model is not None:
            root = self.root_from_output(self.trajectory_model(kp)[:, :, 0])[valid]
            target = batch["root_3d"][valid]
            traj = ((root - target).norm(dim=-1) / target[:, 2].clamp_min(0.1)).mean()
            loss = loss + traj
            out["loss_traj"] = traj.detach()
        self.optimizer_step(self.optimizer, loss)
        self.scheduler.step()
        out["loss"] = loss.detach()
        return out

    def _real_batch(self, n: int, device, pool: Optional[torch.Tensor] = None) -> torch.Tensor:
        pool = self.real_poses if pool is None else pool
        idx = torch.randint(len(pool), (n,))
        return pool.index_select(0, idx).to(device)

    def _flip(self, batch):
        """Mirror half the batch: 2D x -> -x with left/right swapped, 3D likewise, intrinsics cx -> -cx, p2 -> -p2."""
        half = batch["keypoints_2d"].shape[0] // 2
        out = dict(batch)
        kp, pose, root, intr = (batch[k].clone() for k in ("keypoints_2d", "pose_3d", "root_3d", "intrinsics"))
        kp[half:] = flip_joints(kp[half:], H36M17)
        pose[half:] = flip_joints(pose[half:], H36M17)
        root[half:, ..., 0] = -root[half:, ..., 0]  # (B, 3), or (B, L, 3) for chunks
        intr[half:] = flip_screen_intrinsics(intr[half:])  # the mirrored camera (Camera.flipped, normalised)
        out.update(keypoints_2d=kp, pose_3d=pose, root_3d=root, intrinsics=intr)
        return out

    def _critic_step(self, fake: torch.Tensor, temporal: bool = False) -> dict:
        critic, opt, pool, name = (
            (self.temporal_critic, self.temporal_critic_optimizer, self.real_windows, "temporal_critic")
            if temporal
            else (self.critic, self.critic_optimizer, self.real_poses, "critic")
        )
        critic.train()
        for p in critic.parameters():
            p.requires_grad_(True)
        stats = {}
        for _ in range(self.n_critic):
            real = self._real_batch(fake.shape[0], fake.device, pool)
            loss = critic_loss(critic, real, fake) + gradient_penalty(critic, real, fake)
            self.optimizer_step(opt, loss)
            stats = {f"{name}_loss": loss.detach(), f"{name}_gap": critic_gap(critic, real, fake.detach())}
        for p in critic.parameters():
            p.requires_grad_(False)  # the lifter's step must not move the critic
        return stats

    def _temporal_rows(self, batch, free: torch.Tensor) -> torch.Tensor:
        """Up to ``temporal_batch`` unlabelled windows, evenly spread over the batch (both flip halves), whose
        frames are all real (edge-padded windows would give the motion critic frozen, not real, motion)."""
        ok = free if "valid" not in batch else free & batch["valid"].to(free.device).all(dim=1)
        rows = ok.nonzero()[:, 0]
        if len(rows) > self.temporal_batch:
            rows = rows[torch.linspace(0, len(rows) - 1, self.temporal_batch).round().long().to(rows.device)]
        return rows

    def consecutive_poses(self, kp_long: torch.Tensor) -> torch.Tensor:
        """``(b, rf + T - 1, 17, 2)`` -> the lifted poses of ``T`` consecutive frames ``(b, T, 17, 3)``.

        Each output frame needs its own receptive field, so ``T`` frames cost about ``T`` single-frame outputs
        whichever twin computes them: the dilated network on the long window shares only the first layer's
        positions, and the strided twin on the ``T`` overlapping rf-windows (``unfold``) repeats only that
        cheap first layer. The training path therefore keeps the strided twin (:meth:`training_step` lifts these
        windows in the SAME pass as the batch's centre frames, so batch norm sees one batch), and only
        ``temporal_batch`` windows per step are lifted this way. With ``training_twin=False`` the dilated
        network runs on the long window. In eval mode both give the same numbers.
        """
        if not self.training_twin:
            return self.pose_model(kp_long)
        b, t = kp_long.shape[0], kp_long.shape[1] - self.pose_model.receptive_field() + 1
        return self.pose_model.forward_windows(self._unfold(kp_long)).reshape(b, t, -1, 3)

    def _unfold(self, kp_long: torch.Tensor) -> torch.Tensor:
        """(b, rf + T - 1, J, 2) -> the b·T overlapping rf-frame windows (b·T, rf, J, 2), window-major."""
        rf = self.pose_model.receptive_field()
        wins = kp_long.unfold(1, rf, 1).permute(0, 1, 4, 2, 3)  # (b, T, rf, J, 2)
        return wins.reshape(-1, rf, *kp_long.shape[2:])

    # -- the step ------------------------------------------------------------------------------------------
    def training_step(self, batch, step):
        if self.flip_augmentation:
            batch = self._flip(batch)
        kp_long = batch["keypoints_2d"]
        if self.chunk_frames > 1 and kp_long.shape[1] == self.window_frames():
            return self._chunk_step(batch)
        if kp_long.shape[1] != self.window_frames():
            raise ValueError(
                f"VideoGanTask: training windows must have {self.window_frames()} frames (receptive "
                f"field + temporal window - 1); batch keypoints_2d has shape {tuple(kp_long.shape)}"
            )
        t_extra = self.temporal_window - 1  # frames around the receptive field the motion windows need
        first = t_extra if self.pose_model.causal else t_extra // 2
        kp = kp_long[:, first : first + self.pose_model.receptive_field()]  # the centre frame's own window
        labelled = self._labelled_mask(batch)
        rows = (
            self._temporal_rows(batch, ~labelled)
            if self.temporal_critic is not None
            else torch.zeros(0, dtype=torch.long, device=kp.device)
        )
        windows = None
        if self.training_twin:
            if len(rows):  # one strided pass: the batch's centre windows, then the motion windows
                both = self.pose_model.forward_windows(torch.cat([kp, self._unfold(kp_long[rows])]))
                pred, windows = both[: len(kp)], both[len(kp) :, 0].reshape(len(rows), self.temporal_window, -1, 3)
            else:
                pred = self.pose_model.forward_windows(kp)
            raw_root = self.trajectory_model.forward_windows(kp) if self.trajectory_model is not None else None
        else:
            pred = self.pose_model(kp)
            raw_root = self.trajectory_model(kp) if self.trajectory_model is not None else None
            if len(rows):
                windows = self.consecutive_poses(kp_long[rows])
        pred = pred[:, 0]  # (B, 17, 3) root-relative
        root = None if raw_root is None else self.root_from_output(raw_root[:, 0, 0])  # (B, 3) camera frame
        out = {}
        loss = pred.new_zeros(())
        if labelled.any():
            sup = mpjpe(pred[labelled], batch["pose_3d"][labelled])
            loss = loss + sup
            out["loss_mpjpe"] = sup.detach()
            if root is not None:  # VideoPose3D's 1/z-weighted root error
                z = batch["root_3d"][labelled][:, 2].clamp_min(0.1)
                traj = ((root[labelled] - batch["root_3d"][labelled]).norm(dim=-1) / z).mean()
                loss = loss + traj
                out["loss_traj"] = traj.detach()
        free = ~labelled
        if free.any():
            target_2d = kp[free, self.centre]
            reproj = self.reprojection_error(pred[free], root[free], batch["intrinsics"][free], target_2d)
            loss = loss + self.w_reproj * reproj
            out["loss_reproj"] = reproj.detach()
            if labelled.any() and self.w_bone > 0:  # VideoPose3D: unlabelled bone lengths match labelled ones
                bone = (bone_lengths(pred[free]).mean(0) - bone_lengths(pred[labelled]).mean(0).detach()).abs().mean()
                loss = loss + self.w_bone * bone
                out["loss_bone"] = bone.detach()
            if self.critic is not None:
                out.update(self._critic_step(pred[free].detach()))
                adv = generator_loss(self.critic, pred[free])
                loss = loss + self.w_adv * adv
                out["loss_adv"] = adv.detach()
            if windows is not None:
                out.update(self._critic_step(windows.detach(), temporal=True))
                adv_t = generator_loss(self.temporal_critic, windows)
                loss = loss + self.temporal_weight * adv_t
                out["loss_temporal"] = adv_t.detach()
        self.optimizer_step(self.optimizer, loss)
        self.scheduler.step()
        out["loss"] = loss.detach()
        return out

    @torch.no_grad()
    def validation_step(self, batch):
        self.pose_model.eval()
        pred = self.pose_model.forward_windows(batch["keypoints_2d"])[:, 0]
        return {"mpjpe": mpjpe(pred, batch["pose_3d"]), "p_mpjpe": p_mpjpe(pred, batch["pose_3d"])}

    @torch.no_grad()
    def validate_dataset(self, dataset, rank: int = 0, world_size: int = 1, device="cpu") -> dict:
        """MPJPE / P-MPJPE sums over every frame of the validation views (every ``world_size``-th view from
        ``rank``), each view lifted as a whole sequence (:meth:`TemporalLifter.lift_sequence`)."""
        self.pose_model.eval()
        sums = {"mpjpe": [0.0, 0], "p_mpjpe": [0.0, 0]}
        for i, (_key, kp, pose, _root) in enumerate(dataset.view_arrays()):
            if i % world_size != rank:
                continue
            pred = self.pose_model.lift_sequence(torch.from_numpy(kp).to(device))
            target = torch.from_numpy(pose).to(device)
            for name, fn in (("mpjpe", mpjpe_per_frame), ("p_mpjpe", p_mpjpe_per_frame)):
                sums[name][0] += float(fn(pred, target).sum())
                sums[name][1] += len(pred)
        return {k: tuple(v) for k, v in sums.items()}

    @torch.no_grad()
    def predict(self, batch) -> torch.Tensor:
        self.pose_model.eval()
        return self.pose_model(batch["keypoints_2d"])[:, 0]


__all__ = ["VideoGanTask", "SUPERVISION"]
