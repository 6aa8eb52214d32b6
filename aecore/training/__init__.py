"""Training: the configuration, the trainer, devices, recordings of a model learning, kept runs and the zoo."""
