"""Wasserstein GAN with gradient penalty (WGAN-GP): the losses, the penalty and the published optimiser settings.

Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, "Improved Training of Wasserstein GANs", NeurIPS 2017. The
critic f is trained to maximise E[f(real)] − E[f(fake)] while the penalty λ E[(‖∇f(x̂)‖₂ − 1)²] on points x̂ drawn
uniformly on segments between real and fake samples keeps it close to 1-Lipschitz. The paper's defaults — λ = 10,
Adam with lr 1e-4 and β = (0.5, 0.9), n_critic = 5 critic steps per generator step — are the constants below;
RepNet (Wandt & Rosenhahn 2019) trains its pose critic this way.

A critic here is any callable mapping a batch (B, ...) to values (B,) (or (B, 1)); samples may have any shape.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch

__all__ = [
    "GP_WEIGHT",
    "LEARNING_RATE",
    "BETAS",
    "N_CRITIC",
    "gradient_penalty",
    "critic_loss",
    "generator_loss",
    "critic_gap",
    "make_optimizer",
]

GP_WEIGHT = 10.0
LEARNING_RATE = 1e-4
BETAS = (0.5, 0.9)
N_CRITIC = 5

Critic = Callable[[torch.Tensor], torch.Tensor]


def _values(critic: Critic, x: torch.Tensor, what: str) -> torch.Tensor:
    out = critic(x)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (x.shape[0],):
        raise ValueError(
            f"{what}: the critic must return one value per sample, shape ({x.shape[0]},), "
            f"got {tuple(out.shape)} for input {tuple(x.shape)}"
        )
    return out


def gradient_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = GP_WEIGHT,
    epsilon: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """λ · mean over samples of (‖∇ₓ f(x̂)‖₂ − 1)², x̂ = ε·real + (1 − ε)·fake with one ε ~ U(0, 1) per sample.

    ``real`` and ``fake`` (B, ...) must match in shape; their graphs are cut (the penalty trains the critic only).
    The gradient norm is over all of a sample's elements. ``epsilon`` (B,) fixes the mixing weights (tests).
    The result keeps its graph (``create_graph``) so it can be back-propagated into the critic's parameters.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    if real.ndim < 1 or real.shape[0] == 0:
        raise ValueError(f"gradient_penalty: need a non-empty batch (B, ...), got {tuple(real.shape)}")
    n = real.shape[0]
    if epsilon is None:
        epsilon = torch.rand(n, device=real.device, dtype=real.dtype)
    elif epsilon.shape != (n,):
        raise ValueError(f"gradient_penalty: epsilon must have shape ({n},), got {tuple(epsilon.shape)}")
    eps = epsilon.to(real).reshape((n,) + (1,) * (real.ndim - 1))
    mixed = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    values = _values(critic, mixed, "gradient_penalty")
    (grad,) = torch.autograd.grad(values.sum(), mixed, create_graph=True)
    norms = grad.reshape(n, -1).norm(dim=1)
    return weight * ((norms - 1.0) ** 2).mean()


def critic_loss(critic: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[f(fake)] − E[f(real)] (the critic minimises it; add :func:`gradient_penalty`). ``fake`` is detached."""
    return _values(critic, fake.detach(), "critic_loss").mean() - _values(critic, real, "critic_loss").mean()


def generator_loss(critic: Critic, fake: torch.Tensor) -> torch.Tensor:
    """−E[f(fake)]: what the generator (or any model whose outputs the critic judges) minimises."""
    return -_values(critic, fake, "generator_loss").mean()


def critic_gap(critic: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[f(real)] − E[f(fake)], the critic's estimate of the Wasserstein-1 distance (no gradient)."""
    with torch.no_grad():
        return _values(critic, real, "critic_gap").mean() - _values(critic, fake, "critic_gap").mean()


def make_optimizer(params: Iterable[torch.nn.Parameter], lr: float = LEARNING_RATE, betas=BETAS) -> torch.optim.Adam:
    """Adam with the WGAN-GP paper's settings (lr 1e-4, β = (0.5, 0.9))."""
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas))
