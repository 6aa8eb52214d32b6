"""Models: the autoencoders by name, their layers, and running them over images (codes, reconstructions, errors)."""
