import numpy as np

from synthgp.core.rng import Draws


def test_draws_are_a_function_of_seed_purpose_id_and_step():
    ids = np.arange(1000)
    a = Draws(1, "x").uniform(ids)
    assert np.array_equal(a, Draws(1, "x").uniform(ids))
    # the same id gives the same draw whatever else is in the batch
    assert np.array_equal(a[500:], Draws(1, "x").uniform(ids[500:]))
    assert not np.array_equal(a, Draws(2, "x").uniform(ids))
    assert not np.array_equal(a, Draws(1, "y").uniform(ids))
    assert not np.array_equal(a, Draws(1, "x").uniform(ids, step=1))


def test_uniform_and_normal_moments():
    ids = np.arange(400_000)
    u = Draws(7, "u").uniform(ids)
    assert u.min() >= 0 and u.max() < 1
    # SE of the mean is 0.29/sqrt(4e5) = 0.00046; 5 SE
    assert abs(u.mean() - 0.5) < 0.0025
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 39_000  # expected 40,000 each, SD 190
    z = Draws(7, "z").normal(ids)
    assert abs(z.mean()) < 0.008 and abs(z.std() - 1) < 0.008
    # neighbouring ids are not correlated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.008


def test_categorical_follows_probabilities():
    p = np.array([0.5, 0.3, 0.15, 0.05])
    k = Draws(3, "c").categorical(np.arange(200_000), p)
    freq = np.bincount(k, minlength=4) / 200_000
    assert np.allclose(freq, p, atol=0.005)
