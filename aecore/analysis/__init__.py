"""Analysis: PCA, projections of the latent space, the tutorials' experiments, classifiers on codes, results."""
