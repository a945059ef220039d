"""The detector registry: one module per detector, run in this order (findings keep it)."""

from __future__ import annotations

from forensics.detectors import (
    bulk,
    distinct_outlier,
    distributed_walk,
    enumeration,
    out_of_scope,
    scanner,
    sigma,
    status_flip,
    unauth_read,
)
from forensics.detectors.base import Detector

REGISTRY: dict[str, Detector] = {
    d.id: d
    for d in (
        unauth_read.DETECTOR,
        out_of_scope.DETECTOR,
        enumeration.DETECTOR,
        distributed_walk.DETECTOR,
        distinct_outlier.DETECTOR,
        bulk.DETECTOR,
        scanner.DETECTOR,
        sigma.DETECTOR,
        status_flip.DETECTOR,
    )
}
