"""Access-log breach forensics: was data actually taken during an exposure window?

The notebook API::

    from forensics import Case, ingest
    case = Case.create("case.duckdb")
    ingest(case, ["/evidence/nginx", "/evidence/app"])
    case.sql("select status, count(*) from events group by all")
    derive_routes(case, RouteOptions((Endpoint.parse("GET /api/v2/referrals/{id}"),)))
    route_summary(case)  # or case.sql("select * from requests") per event
    cov = compute_coverage(case, parse_window("2023-03-14T16:20Z/2024-11-21T09:40Z"))
    cov.ratio, cov.grade, cov.gaps, cov.bound().statement
    done = investigate(case, InvestigateOptions(...), Path("report"))  # logged in the case log
    verify(case).ok  # evidence re-hashed, case log chain, counts
    forget(case, [3])  # undo source 3's ingest (e.g. wrong format); logged, then ingest it again
    export_parquet(case, "case-parquet")  # the evidence store as Parquet, checked; verify_parquet(dir)
    with open_parquet("case-parquet") as folder_case:  # a Parquet case folder, checked, read in place
        folder_case.sql("select count(*) from events")
    verify_folder("case-parquet").ok  # forensics verify FOLDER: the folder's checks, evidence re-hashed
"""

from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.coverage import Coverage, CoverageOptions, compute_coverage, zero_event_bound
from forensics.assess.window import Window, parse_window
from forensics.assess.window_tables import affected_records
from forensics.derive.routes import Endpoint, RouteOptions, derive_routes, route_summary
from forensics.detectors.run import DetectOptions, findings, flagged_actors, run_detectors
from forensics.ingest.forget import ForgetReport, forget
from forensics.ingest.run import IngestOptions, IngestReport, ingest
from forensics.ingest.verify import Verification, verify
from forensics.publish.investigate import Investigation, investigate
from forensics.publish.parquet import Export, export_parquet
from forensics.publish.parquet_case import FolderVerification, ParquetCase, open_parquet, verify_folder
from forensics.publish.parquet_check import ParquetCheck, verify_parquet
from forensics.publish.pseudonymise import Pseudonymisation
from forensics.publish.writers import write_outputs
from forensics.store.case import Case, tool_version

__version__ = tool_version()
__all__ = [
    "Case",
    "Coverage",
    "CoverageOptions",
    "DetectOptions",
    "Endpoint",
    "Export",
    "FolderVerification",
    "ForgetReport",
    "IngestOptions",
    "IngestReport",
    "InvestigateOptions",
    "Investigation",
    "ParquetCase",
    "ParquetCheck",
    "Pseudonymisation",
    "RouteOptions",
    "Verification",
    "Window",
    "__version__",
    "affected_records",
    "assess",
    "compute_coverage",
    "derive_routes",
    "export_parquet",
    "findings",
    "flagged_actors",
    "forget",
    "ingest",
    "investigate",
    "open_parquet",
    "parse_window",
    "route_summary",
    "run_detectors",
    "verify",
    "verify_folder",
    "verify_parquet",
    "write_outputs",
    "zero_event_bound",
]
