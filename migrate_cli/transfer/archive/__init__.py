"""Glacier archiving: lifecycle rules merged into a bucket's own (`lifecycle`), moving objects now
(`move`), and restoring archived objects (`status`)."""
