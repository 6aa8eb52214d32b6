"""aecore: autoencoders on MNIST and your own images, in rooms: data, models, training, analysis, engine (jobs and
workers), classroom; settings and errors at the top."""

__version__ = "0.2.0"
