"""Access-log breach forensics: was data actually taken during an exposure window?

The notebook API::

    from forensics import Case, ingest
    case = Case.create("case.duckdb")
    ingest(case, ["/evidence/nginx", "/evidence/app"])
    case.sql("select status, count(*) from events group by all")
"""

from forensics.case import Case, tool_version
from forensics.ingest import IngestOptions, IngestReport, ingest

__version__ = tool_version()
__all__ = ["Case", "IngestOptions", "IngestReport", "__version__", "ingest"]
