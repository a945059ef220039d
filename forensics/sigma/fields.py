"""Sigma's webserver field names -> columns of the view rules run on (``sigma_requests``).

Sigma's webserver taxonomy (W3C extended log names) against our events schema:

* ``c-ip`` -> client_ip (the peer the server saw; X-Forwarded-For is not c-ip)
* ``cs-method`` -> method
* ``cs-uri-stem`` -> path (without the query string)
* ``cs-uri-query`` and ``cs-uri`` -> the whole request target, ``path`` then ``?query`` when
  there is a query. SigmaHQ's web rules use cs-uri-query for the request target in many rules
  (``cs-uri-query|contains: '/../'``), while our events split path and query: matching only the
  query would miss most of what those rules look for. A rule meant for the query alone still
  matches (the query is inside the target), at worst also on the path.
* ``sc-status`` -> status (as text for string values; numbers compare as numbers)
* ``cs-user-agent`` and ``c-useragent`` -> user_agent
* ``cs-referer`` -> referer
* ``cs-host`` -> host
* ``cs-version`` -> protocol
* ``sc-bytes`` -> bytes_sent, ``cs-bytes`` -> bytes_received
* ``cs-username`` -> principal

Keyword (fieldless) values match the raw log line, read back from the evidence (``run.py``):
the view's ``raw_line`` is not a column of the case.

Any other field (``cs-cookie``, ``s-ip``, ``r-dns``…) has no column: a rule using it is listed
as skipped with that reason, never run on a guess.
"""

from __future__ import annotations

# Sigma field -> column of sigma_requests
FIELDS: dict[str, str] = {
    "c-ip": "c_ip",
    "cs-method": "cs_method",
    "cs-uri-stem": "cs_uri_stem",
    "cs-uri-query": "cs_uri_query",
    "cs-uri": "cs_uri_query",
    "sc-status": "sc_status",
    "cs-user-agent": "cs_user_agent",
    "c-useragent": "cs_user_agent",
    "cs-referer": "cs_referer",
    "cs-host": "cs_host",
    "cs-version": "cs_version",
    "sc-bytes": "sc_bytes",
    "cs-bytes": "cs_bytes",
    "cs-username": "cs_username",
}

RAW_LINE = "raw_line"  # keyword values: the evidence line (not a column of the case)

# The view over events (one row per event; the detector maps rows to requests and actors).
VIEW_SQL = """
CREATE OR REPLACE TEMP VIEW sigma_requests AS
SELECT source_id, line_no,
  client_ip AS c_ip, method AS cs_method, path AS cs_uri_stem,
  coalesce(path, request_raw) || coalesce('?' || query, '') AS cs_uri_query,
  CAST(status AS VARCHAR) AS sc_status, user_agent AS cs_user_agent, referer AS cs_referer,
  host AS cs_host, protocol AS cs_version, CAST(bytes_sent AS VARCHAR) AS sc_bytes,
  CAST(bytes_received AS VARCHAR) AS cs_bytes, principal AS cs_username
FROM events"""
