"""aecore: autoencoders on MNIST — data, models, training, evaluation, projections, runs, jobs, experiments."""

__version__ = "0.1.0"
