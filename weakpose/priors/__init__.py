"""Learned 3D pose priors: the kinematic chain space (KCS), WGAN-GP losses and RepNet's pose critic, the
generators the critics are trained against (:mod:`.generators`) and implausible copies of real samples to check
them with (:mod:`.corruptions`).

Typical use as a regulariser (poses (B, 17, 3) in metres, H36M-17 order)::

    prior = PoseCritic.load("runs/pose_prior/prior.pt")
    loss = task_loss + 0.01 * prior.loss(poses_3d)

and the SMPL-parameter critic (HMR-style, least-squares GAN) for body-pose rotations and shapes::

    smpl_prior = SMPLCritic.load("runs/smpl_prior/smpl_prior.pt")
    loss = task_loss + 0.01 * smpl_prior.loss(body_pose_rotmats, betas)   # (B, 23, 3, 3), (B, 10)

``PoseDiscriminator``, ``SMPLDiscriminator`` and ``lsgan_discriminator_loss`` are the v0.1 names of
:class:`PoseCritic`, :class:`SMPLCritic` and :func:`lsgan_critic_loss`, kept as aliases for users' code.
"""

from weakpose.priors.generators import PoseGenerator, SMPLGenerator
from weakpose.priors.kcs import H36M17_BONES, bone_vectors, bones_from_parents, incidence_matrix, kcs_matrix
from weakpose.priors.pose_critic import FILE_FORMAT, PoseCritic, PoseDiscriminator
from weakpose.priors.smpl_critic import FILE_FORMAT as SMPL_FILE_FORMAT
from weakpose.priors.smpl_critic import (
    SMPLCritic,
    SMPLDiscriminator,
    as_rotmats,
    lsgan_critic_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from weakpose.priors.temporal_critic import TEMPORAL_FILE_FORMAT, TemporalPoseCritic, pose_windows
from weakpose.priors.wgan import (
    BETAS,
    GP_WEIGHT,
    LEARNING_RATE,
    N_CRITIC,
    critic_gap,
    critic_loss,
    generator_loss,
    gradient_penalty,
    make_optimizer,
)

__all__ = [
    "BETAS",
    "FILE_FORMAT",
    "GP_WEIGHT",
    "H36M17_BONES",
    "LEARNING_RATE",
    "N_CRITIC",
    "PoseCritic",
    "bone_vectors",
    "bones_from_parents",
    "critic_gap",
    "critic_loss",
    "generator_loss",
    "gradient_penalty",
    "incidence_matrix",
    "kcs_matrix",
    "make_optimizer",
    "SMPLCritic",
    "SMPL_FILE_FORMAT",
    "as_rotmats",
    "lsgan_critic_loss",
    "lsgan_generator_loss",
    "TEMPORAL_FILE_FORMAT",
    "TemporalPoseCritic",
    "pose_windows",
    "PoseGenerator",
    "SMPLGenerator",
    # v0.1 names, kept for users' code
    "PoseDiscriminator",
    "SMPLDiscriminator",
    "lsgan_discriminator_loss",
]
