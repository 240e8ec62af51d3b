"""TemporalLifter.lift_sequence: chunked whole-sequence inference and test-time flip averaging, checked against
per-frame windows built by hand (numpy edge-clipped indices) and run through the model one window per batch item."""

import numpy as np
import pytest
import torch

from weakpose.models.temporal import TemporalLifter, TrajectoryModel
from weakpose.skeleton import H36M17

# H36M-17 mirror written out by hand (not taken from weakpose.skeleton): LHip/LKnee/LFoot/LShoulder/LElbow/LWrist
# against RHip/RKnee/RFoot/RShoulder/RElbow/RWrist
LEFT = [4, 5, 6, 11, 12, 13]
RIGHT = [1, 2, 3, 14, 15, 16]


def _mirror(x):
    """(..., 17, D): swap left/right joints and negate coordinate 0."""
    perm = list(range(17))
    for l, r in zip(LEFT, RIGHT):
        perm[l], perm[r] = r, l
    out = x[..., perm, :].clone()
    out[..., 0] = -out[..., 0]
    return out


def _model(widths, causal, dtype=torch.float64, channels=32, seed=0, cls=TemporalLifter, **kw):
    """Eval-mode model whose batch norms have random running statistics (positive variances) and affine terms."""
    torch.manual_seed(seed)
    model = cls(filter_widths=widths, channels=channels, causal=causal, **kw)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.3)
    return model.to(dtype).eval()


def _reference(model, seq):
    """(T, J, F) -> (T, J_out, 3): every frame's own window of rf frames, indices clipped to [0, T - 1] by numpy
    (centred: t - pad .. t + pad; causal: t - 2·pad .. t), all run as one batch of T windows through forward()."""
    T, rf = seq.shape[0], model.receptive_field()
    pad = (rf - 1) // 2
    t = np.arange(T)[:, None]
    offsets = np.arange(-2 * pad, 1) if model.causal else np.arange(-pad, pad + 1)
    index = np.clip(t + offsets[None, :], 0, T - 1)  # (T, rf)
    with torch.no_grad():
        out = model(seq[torch.as_tensor(index)])  # (T, rf, J, F) -> (T, 1, J_out, 3)
    assert out.shape[:2] == (T, 1)
    return out[:, 0]


def _sequence(T, seed=1, dtype=torch.float64, batch=()):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*batch, T, 17, 2, generator=g) * 0.5).to(dtype)


CASES = [  # (filter widths, T, chunk_frames): several chunks with a partial last one, T < rf, T == 1
    ((3, 3, 3), 137, 50),
    ((3, 3, 3), 10, 4),
    ((3, 3, 3), 1, 50),
    ((3, 3, 3, 3, 3), 301, 100),
    ((3, 3, 3, 3, 3), 100, 30),
    ((3, 3, 3, 3, 3), 1, 100),
]


@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
@pytest.mark.parametrize("widths, T, chunk", CASES)
def test_matches_per_frame_windows_float64(widths, T, chunk, causal):
    model = _model(widths, causal)
    x = _sequence(T)
    ref = _reference(model, x)
    assert ref.abs().max() > 1e-2  # a non-trivial network
    out = model.lift_sequence(x, chunk_frames=chunk)
    assert out.shape == (T, 17, 3) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=0, atol=1e-7)  # 1e-4 mm
    # the default chunk (one chunk here) gives the same numbers
    np.testing.assert_allclose(model.lift_sequence(x).numpy(), ref.numpy(), rtol=0, atol=1e-7)


@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
@pytest.mark.parametrize("widths, T, chunk", [CASES[0], CASES[2], CASES[3], CASES[4]])
def test_matches_per_frame_windows_float32(widths, T, chunk, causal):
    model = _model(widths, causal, dtype=torch.float32)
    x = _sequence(T, dtype=torch.float32)
    out = model.lift_sequence(x, chunk_frames=chunk)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), _reference(model, x).numpy(), rtol=0, atol=1e-5)
    # and against the float64 evaluation of the same weights
    ref64 = _reference(model.double(), x.double())
    np.testing.assert_allclose(out.double().numpy(), ref64.numpy(), rtol=0, atol=1e-5)


def test_batch_of_sequences_is_per_sequence():
    model = _model((3, 3, 3), causal=False)
    x = _sequence(73, batch=(3,))
    out = model.lift_sequence(x, chunk_frames=20)
    assert out.shape == (3, 73, 17, 3)
    for b in range(3):
        np.testing.assert_allclose(out[b].numpy(), _reference(model, x[b]).numpy(), rtol=0, atol=1e-7)


@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
@pytest.mark.parametrize("dense", [False, True], ids=["dilated", "dense"])
def test_agrees_with_padded_forward_on_one_chunk(causal, dense):
    model = _model((3, 3, 3), causal, dense=dense)
    x = _sequence(90, batch=(2,))
    with torch.no_grad():
        padded = model(x, pad_edges=True)
    one_chunk = model.lift_sequence(x, chunk_frames=90)
    many_chunks = model.lift_sequence(x, chunk_frames=17)
    np.testing.assert_allclose(one_chunk.numpy(), padded.numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(many_chunks.numpy(), padded.numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(one_chunk[0].numpy(), _reference(model, x[0]).numpy(), rtol=0, atol=1e-7)


@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
def test_flip_average_matches_hand_written_mirror(causal):
    model = _model((3, 3, 3), causal)
    x = _sequence(61)
    expected = 0.5 * (_reference(model, x) + _mirror(_reference(model, _mirror(x))))
    assert (expected - _reference(model, x)).abs().max() > 1e-3  # the flip changes the answer
    for flip in (H36M17, (LEFT, RIGHT), (H36M17, H36M17), ((LEFT, RIGHT), (LEFT, RIGHT))):
        out = model.lift_sequence(x, chunk_frames=25, flip=flip)
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=0, atol=1e-7)
    batch = model.lift_sequence(torch.stack([x, _mirror(x)]), chunk_frames=25, flip=H36M17)
    np.testing.assert_allclose(batch[0].numpy(), expected.numpy(), rtol=0, atol=1e-7)


def test_flip_average_is_mirror_equivariant():
    model = _model((3, 3, 3), causal=False)
    x = _sequence(45)
    a = model.lift_sequence(x, chunk_frames=20, flip=H36M17)
    b = model.lift_sequence(_mirror(x), chunk_frames=20, flip=H36M17)
    np.testing.assert_allclose(b.numpy(), _mirror(a).numpy(), rtol=0, atol=1e-7)
    # a mirror-symmetric input (midline joints at u = 0, left joints the mirror of right ones) lifts to a
    # mirror-symmetric pose with flip averaging, and (generically) not without it
    sym = x.clone()
    sym[:, [0, 7, 8, 9, 10], 0] = 0.0
    sym[:, LEFT] = sym[:, RIGHT] * torch.tensor([-1.0, 1.0], dtype=x.dtype)
    torch.testing.assert_close(_mirror(sym), sym, rtol=0, atol=0)
    out = model.lift_sequence(sym, chunk_frames=20, flip=H36M17)
    np.testing.assert_allclose(_mirror(out).numpy(), out.numpy(), rtol=0, atol=1e-7)
    plain = model.lift_sequence(sym, chunk_frames=20)
    assert (_mirror(plain) - plain).abs().max() > 1e-3


def test_trajectory_model_flip_negates_x_only():
    model = _model((3, 3), causal=False, cls=TrajectoryModel)
    x = _sequence(30)
    unmirror = torch.tensor([-1.0, 1.0, 1.0], dtype=x.dtype)
    expected = 0.5 * (_reference(model, x) + _reference(model, _mirror(x)) * unmirror)
    out = model.lift_sequence(x, chunk_frames=8, flip=(H36M17, ([], [])))
    assert out.shape == (30, 1, 3)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=0, atol=1e-7)


def test_no_grad_and_mode_is_not_changed():
    model = _model((3, 3), causal=False)
    x = _sequence(20).requires_grad_(True)
    out = model.lift_sequence(x, chunk_frames=7)
    assert not out.requires_grad and not model.training
    model.train()
    before = model.expand_bn.running_mean.clone()
    with pytest.raises(RuntimeError, match=r"model\.eval\(\)"):
        model.lift_sequence(x.detach())
    assert model.training  # not switched
    torch.testing.assert_close(model.expand_bn.running_mean, before, rtol=0, atol=0)
    model.eval()
    model.blocks[0].train()  # one submodule left in training mode is caught too
    with pytest.raises(RuntimeError, match="training mode"):
        model.lift_sequence(x.detach())


def test_bad_inputs_raise_clear_errors():
    model = _model((3, 3), causal=False)
    with pytest.raises(ValueError, match=r"\(T, 17, 2\) or \(B, T, 17, 2\).*got \(20, 16, 2\)"):
        model.lift_sequence(torch.zeros(20, 16, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(T, 17, 2\).*got \(17, 2\)"):
        model.lift_sequence(torch.zeros(17, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"T >= 1.*got \(0, 17, 2\)"):
        model.lift_sequence(torch.zeros(0, 17, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"torch tensor of shape \(T, 17, 2\)"):
        model.lift_sequence(np.zeros((20, 17, 2)))
    x = torch.zeros(20, 17, 2, dtype=torch.float64)
    for chunk in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="chunk_frames"):
            model.lift_sequence(x, chunk_frames=chunk)
    with pytest.raises(ValueError, match="distinct joint indices in \\[0, 17\\)"):
        model.lift_sequence(x, flip=([1, 2], [4, 17]))
    with pytest.raises(ValueError, match="distinct"):
        model.lift_sequence(x, flip=([1, 2], [4]))
    with pytest.raises(TypeError, match="JointOrder"):
        model.lift_sequence(x, flip=3)
    small = _model((3, 3), causal=False, num_joints_in=5, num_joints_out=5)
    with pytest.raises(ValueError, match="17 joints but the model has 5 input joints"):
        small.lift_sequence(torch.zeros(4, 5, 2, dtype=torch.float64), flip=H36M17)
