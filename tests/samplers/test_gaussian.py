import numpy as np
import pytest
import scipy.stats
import torch

from replay_gym.samplers import GaussianSampler, downsample, upsample

Z = 5.0
"""Standard errors allowed per checked entry: P(|N(0,1)| > 5) = 5.7e-7, so even the few hundred
entries checked below leave a family-wise false-alarm rate under 1e-3."""


def _activations(
    n_per_class: int, shape: tuple[int, int, int], n_classes: int = 2, seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Correlated, class-shifted, non-negative-ish activations (like ReLU maps)."""
    g = torch.Generator().manual_seed(seed)
    d = int(np.prod(shape))
    mixing = torch.randn(d, d, generator=g, dtype=dtype) / d**0.5
    acts, labels = [], []
    for c in range(n_classes):
        x = torch.randn(n_per_class, d, generator=g, dtype=dtype) @ mixing + 2.0 * c + 1.0
        acts.append(x.reshape(n_per_class, *shape))
        labels.append(torch.full((n_per_class,), c, dtype=torch.int64))
    # Interleave classes so fitting must select by label, not by position.
    perm = torch.randperm(n_per_class * n_classes, generator=g)
    return torch.cat(acts)[perm], torch.cat(labels)[perm]


def _np_downsample(acts: torch.Tensor, f: int) -> np.ndarray:
    a = acts.numpy()
    n, c, h, w = a.shape
    return a.reshape(n, c, h // f, f, w // f, f).mean(axis=(3, 5)).reshape(n, -1)


def _low(samples: torch.Tensor, f: int) -> np.ndarray:
    """Samples back in the fitted low-resolution space (exact: blocks are constant)."""
    return downsample(samples, f).flatten(1).numpy()


# ------------------------------------------------------------------ moments


def test_moments_equal_numpy() -> None:
    acts, labels = _activations(30, (3, 4, 6))
    sampler = GaussianSampler(2)
    sampler.fit(acts, labels, n_classes=2)
    assert sampler.low_shape == (3, 2, 3)
    for c in range(2):
        low = _np_downsample(acts[labels == c], 2)
        mean, cov = sampler.moments(c)
        np.testing.assert_allclose(mean.numpy(), low.mean(axis=0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cov.numpy(), np.cov(low, rowvar=False), rtol=1e-10, atol=1e-12)


def test_empirical_moments_match_within_standard_errors() -> None:
    acts, labels = _activations(50, (6, 2, 2))
    sampler = GaussianSampler(2)
    sampler.fit(acts, labels, n_classes=2)
    m = 20_000
    g = torch.Generator().manual_seed(11)
    for c in range(2):
        mean, cov = (t.numpy() for t in sampler.moments(c))
        x = _low(sampler.sample(c, m, g), 2)
        var = np.diag(cov)
        se_mean = np.sqrt(var / m)
        assert np.all(np.abs(x.mean(axis=0) - mean) <= Z * se_mean)
        # Var of a sample covariance entry of a Gaussian: (s_ij^2 + s_ii s_jj) / m.
        se_cov = np.sqrt((cov**2 + np.outer(var, var)) / m)
        assert np.all(np.abs(np.cov(x, rowvar=False) - cov) <= Z * se_cov)


# ------------------------------------------------------------------ distribution


ALPHA = 0.001
"""Family-wise level of the distribution test. Measured over 300 re-seeded runs at alpha=0.01,
the correct sampler was flagged in 0.3 % (Bonferroni over correlated projections is
conservative) and scipy-vs-scipy in 1.3 %; 0.001 keeps such chance flags rare while the negative
controls below are still rejected with p-values many orders of magnitude smaller."""


def _ks_rejects(x: np.ndarray, y: np.ndarray, n_projections: int = 10, alpha: float = ALPHA,
                seed: int = 0) -> bool:
    """Two-sample KS on random 1-D projections, Bonferroni-corrected to level ``alpha``."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((x.shape[1], n_projections))
    p = [scipy.stats.ks_2samp(x @ u, y @ u).pvalue for u in directions.T]
    return min(p) < alpha / n_projections


def _scipy_reference(sampler: GaussianSampler, label: int, m: int) -> np.ndarray:
    mean, cov = (t.numpy() for t in sampler.moments(label))
    ref = scipy.stats.multivariate_normal(mean, cov, allow_singular=True)
    return ref.rvs(size=m, random_state=np.random.default_rng(123))


@pytest.mark.parametrize("shape", [(3, 1, 1), (6, 2, 2), (2, 2, 2)])
def test_samples_agree_with_scipy_multivariate_normal(shape: tuple[int, int, int]) -> None:
    f = shape[1]
    acts, labels = _activations(50, shape)
    sampler = GaussianSampler(f)
    sampler.fit(acts, labels, n_classes=2)
    m = 4000
    x = _low(sampler.sample(1, m, torch.Generator().manual_seed(5)), f)
    assert not _ks_rejects(x, _scipy_reference(sampler, 1, m))


def test_ks_check_rejects_a_wrongly_scaled_sampler() -> None:
    """Negative control: the check above can fail. Spread 1.5x about the mean = wrong covariance."""
    acts, labels = _activations(50, (6, 2, 2))
    good = GaussianSampler(2)
    good.fit(acts, labels, n_classes=2)
    class_mean = acts[labels == 1].mean(dim=0)
    wide = acts.clone()
    wide[labels == 1] = class_mean + 1.5 * (acts[labels == 1] - class_mean)
    bad = GaussianSampler(2)
    bad.fit(wide, labels, n_classes=2)
    m = 4000
    x = _low(bad.sample(1, m, torch.Generator().manual_seed(5)), 2)
    assert _ks_rejects(x, _scipy_reference(good, 1, m))
    shifted = _low(good.sample(1, m, torch.Generator().manual_seed(5)), 2) + 0.2
    assert _ks_rejects(shifted, _scipy_reference(good, 1, m))


# ------------------------------------------------------------------ rank and shapes


def test_samples_lie_in_affine_span_when_n_below_d() -> None:
    acts, labels = _activations(10, (2, 4, 4))  # n = 10 < d = 32
    sampler = GaussianSampler(1)
    sampler.fit(acts, labels, n_classes=2)
    a = acts[labels == 0].flatten(1)
    centred = a - a.mean(dim=0)
    q, _ = torch.linalg.qr(centred.T)  # orthonormal basis of span(A - mean), d x n
    y = sampler.sample(0, 200, torch.Generator().manual_seed(0)).flatten(1) - a.mean(dim=0)
    residual = y - (y @ q) @ q.T
    assert residual.abs().max() < 1e-10 * y.abs().max()
    assert y.abs().max() > 0.1  # not trivially zero
    _, cov = sampler.moments(0)
    assert torch.linalg.matrix_rank(cov).item() == 10 - 1


def test_upsampled_blocks_are_constant() -> None:
    acts, labels = _activations(20, (3, 8, 12), dtype=torch.float32)
    sampler = GaussianSampler(4)
    sampler.fit(acts, labels, n_classes=2)
    x = sampler.sample(0, 7, torch.Generator().manual_seed(0))
    assert x.shape == (7, 3, 8, 12) and x.dtype == torch.float32
    blocks = x.reshape(7, 3, 2, 4, 3, 4)
    assert torch.equal(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))
    torch.testing.assert_close(upsample(downsample(x, 4), 4), x)  # mean of 16 equal floats


def test_downsample_upsample_helpers() -> None:
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    low = downsample(x, 2)
    assert low.shape == (2, 3, 2, 3)
    assert low[0, 0, 0, 0] == x[0, 0, :2, :2].mean()
    up = upsample(low, 2)
    assert up.shape == x.shape
    assert torch.equal(up[..., ::2, ::2], low) and torch.equal(up[..., 1::2, 1::2], low)
    assert downsample(x, 1) is x and upsample(x, 1) is x
    with pytest.raises(ValueError, match=r"factor 4 does not divide the 4x6 map"):
        downsample(x, 4)
    with pytest.raises(ValueError, match="factor"):
        upsample(x, 0)
    with pytest.raises(ValueError, match="4-D"):
        downsample(x[0], 2)


def test_fit_rejects_factor_not_dividing_map() -> None:
    acts, labels = _activations(5, (2, 6, 6))
    sampler = GaussianSampler(4)
    with pytest.raises(ValueError, match=r"factor 4 does not divide the 6x6 map"):
        sampler.fit(acts, labels, n_classes=2)
    assert not sampler.fitted


def test_chunked_sampling_matches_shapes_and_is_not_repeated() -> None:
    acts, labels = _activations(20, (2, 2, 2))
    sampler = GaussianSampler(1, chunk_size=16)
    sampler.fit(acts, labels, n_classes=2)
    x = sampler.sample(1, 50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 2, 2, 2)
    assert not torch.equal(x[:16], x[16:32])
    assert len(torch.unique(x.flatten(1), dim=0)) == 50


# ------------------------------------------------------------------ seeds and nights


def test_same_seed_same_samples_different_seed_different() -> None:
    acts, labels = _activations(20, (2, 4, 4), dtype=torch.float32)
    sampler = GaussianSampler(2)
    sampler.fit(acts, labels, n_classes=2)
    a = sampler.sample(0, 30, torch.Generator().manual_seed(3))
    b = sampler.sample(0, 30, torch.Generator().manual_seed(3))
    c = sampler.sample(0, 30, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sample_night_counts_and_order() -> None:
    acts, labels = _activations(15, (2, 4, 4), n_classes=3, dtype=torch.float32)
    sampler = GaussianSampler(2)
    sampler.fit(acts, labels, n_classes=3)
    x, y = sampler.sample_night(25, torch.Generator().manual_seed(0))
    assert x.shape == (75, 2, 4, 4) and x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert torch.equal(y, torch.arange(3).repeat_interleave(25))
    # Class blocks come from their own class: class means are 1, 3, 5 apart by 2.
    for c in range(3):
        assert abs(x[y == c].mean().item() - (2 * c + 1)) < 0.5


# ------------------------------------------------------------------ errors


def test_unfitted_sampler_raises() -> None:
    sampler = GaussianSampler(2)
    assert not sampler.fitted
    with pytest.raises(RuntimeError, match="not fitted"):
        sampler.sample(0, 3, torch.Generator())
    with pytest.raises(RuntimeError, match="not fitted"):
        sampler.sample_night(3, torch.Generator())
    with pytest.raises(RuntimeError, match="not fitted"):
        _ = sampler.shape


def test_label_out_of_range_names_it() -> None:
    acts, labels = _activations(5, (2, 2, 2))
    sampler = GaussianSampler(1)
    sampler.fit(acts, labels, n_classes=2)
    for bad in (2, -1):
        with pytest.raises(ValueError, match=rf"label {bad} is outside \[0, n_classes=2\)"):
            sampler.sample(bad, 3, torch.Generator())
        with pytest.raises(ValueError, match=rf"label {bad}"):
            sampler.moments(bad)


def test_class_with_one_activation_is_named() -> None:
    acts, labels = _activations(5, (2, 2, 2), n_classes=3)
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[(labels == 2).nonzero().flatten()[1:]] = False  # class 2 keeps one activation
    with pytest.raises(ValueError, match="class 2 has 1 activation"):
        GaussianSampler(1).fit(acts[keep], labels[keep], n_classes=3)
    with pytest.raises(ValueError, match="class 3 has no activations"):
        GaussianSampler(1).fit(acts, labels, n_classes=4)


def test_bad_fit_inputs_raise() -> None:
    acts, labels = _activations(5, (2, 2, 2))
    sampler = GaussianSampler(1)
    with pytest.raises(ValueError, match="4-D"):
        sampler.fit(acts.flatten(1), labels, 2)
    with pytest.raises(ValueError, match="entries"):
        sampler.fit(acts, labels[:-1], 2)
    with pytest.raises(ValueError, match="label 1 is outside"):
        sampler.fit(acts, labels, 1)
    with pytest.raises(ValueError, match="integers"):
        sampler.fit(acts, labels.double(), 2)
    with pytest.raises(ValueError, match="downsampl|factor"):
        GaussianSampler(0)
