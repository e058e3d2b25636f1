"""Moved to :mod:`lossbench.resume` (resume is a runner concern); kept so imports from
branches written before the move keep working. Remove once nothing imports it."""

from lossbench.resume import config_hash, reuse_completed  # noqa: F401
