"""Assess: the answer (``compute.assess``) and its document (``assessment``), evidence coverage, the
exposure window, and the zero-event bound for uncovered time."""
