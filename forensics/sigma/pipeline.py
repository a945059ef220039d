"""The processing pipeline: Sigma's webserver fields onto ``sigma_requests`` (fields.py).

pySigma's documented extension points, in order:

1. a rule for another log source than ``category: webserver`` fails with that reason;
2. the field names are mapped onto the view's columns.

A failure is a ``SigmaTransformationError`` whose message compile.py lists as the skip reason.
Fields without a column are found by compile.py before conversion (``unknown_fields``: it names
them, which a pipeline failure cannot: its condition also fires on keyword items, which have no
field).
"""

from __future__ import annotations

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    RuleFailureTransformation,
)

from forensics.sigma.fields import FIELDS

MAPPING: dict[str | None, str | list[str]] = dict(FIELDS.items())
NOT_WEBSERVER = "log source is not category: webserver (this case holds web server access logs)"


def webserver_pipeline() -> ProcessingPipeline:
    return ProcessingPipeline(
        name="forensics webserver -> events",
        priority=20,
        items=[
            ProcessingItem(
                identifier="webserver_only",
                transformation=RuleFailureTransformation(NOT_WEBSERVER),
                rule_conditions=[LogsourceCondition(category="webserver")],
                rule_condition_negation=True,
            ),
            ProcessingItem(identifier="webserver_fields", transformation=FieldMappingTransformation(MAPPING)),
        ],
    )
