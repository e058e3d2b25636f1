"""Training: the in-memory mini-batch loop and optimizer construction."""
