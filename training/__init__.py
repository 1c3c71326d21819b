"""Training for vidcolor: data pipeline, losses, the training loop. Never imported by vidcolor."""
