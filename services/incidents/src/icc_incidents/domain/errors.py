"""The incidents service's own errors; the rest are the kernel's (`icc_kernel.errors`)."""

from icc_kernel.errors import ConcurrentChange


class DuplicateRecord(ConcurrentChange):
    """Another writer recorded the same key first: a create's request id, taken through
    another replica (the store's unique index refused the second insert)."""
