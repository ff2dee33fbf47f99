"""Learn synthetic tables from real ones: a Bayesian-network synthesizer with latent variables
(`BayesianNetworkSynthesizer`), and its fidelity, utility and privacy evaluation (`synthgp.learn.evaluation`)."""

from synthgp.learn.model import BayesianNetworkSynthesizer

__all__ = ["BayesianNetworkSynthesizer"]
