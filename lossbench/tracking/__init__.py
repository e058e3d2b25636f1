"""Experiment trackers fed from the files a job writes (optional extras)."""
