"""Learned 3D pose priors: the kinematic chain space (KCS), WGAN-GP losses and RepNet's pose critic.

Typical use as a regulariser (poses (B, 17, 3) in metres, H36M-17 order)::

    prior = PoseDiscriminator.load("runs/pose_prior/prior.pt")
    loss = task_loss + 0.01 * prior.loss(poses_3d)
"""
from weakpose.priors.discriminator import FILE_FORMAT, PoseDiscriminator
from weakpose.priors.kcs import H36M17_BONES, bone_vectors, bones_from_parents, incidence_matrix, kcs_matrix
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
    "BETAS", "FILE_FORMAT", "GP_WEIGHT", "H36M17_BONES", "LEARNING_RATE", "N_CRITIC", "PoseDiscriminator",
    "bone_vectors", "bones_from_parents", "critic_gap", "critic_loss", "generator_loss", "gradient_penalty",
    "incidence_matrix", "kcs_matrix", "make_optimizer",
]
