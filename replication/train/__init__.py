"""Training machinery: seeding, checkpoints, progress and the classifier loop."""
