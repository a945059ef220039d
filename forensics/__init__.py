"""Access-log breach forensics: was data actually taken during an exposure window?

The notebook API::

    from forensics import Case, ingest
    case = Case.create("case.duckdb")
    ingest(case, ["/evidence/nginx", "/evidence/app"])
    case.sql("select status, count(*) from events group by all")
    derive_routes(case, RouteOptions((Endpoint.parse("GET /api/v2/referrals/{id}"),)))
    route_summary(case)  # or case.sql("select * from requests") per event
"""

from forensics.case import Case, tool_version
from forensics.ingest import IngestOptions, IngestReport, ingest
from forensics.routes import Endpoint, RouteOptions, derive_routes, route_summary

__version__ = tool_version()
__all__ = [
    "Case",
    "Endpoint",
    "IngestOptions",
    "IngestReport",
    "RouteOptions",
    "__version__",
    "derive_routes",
    "ingest",
    "route_summary",
]
