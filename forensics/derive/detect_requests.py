"""The one table every detector reads: ``detect_requests``, one row per request.

One row per request, not per log line: when two servers logged the same request (twins.py),
the second log's copy is left out, so requests are counted once (its actor is the same).

Columns: the event's (source_id, line_no, ts, client_ip, user_agent, principal, method, path,
query, status, bytes_sent), its route and record id, its authentication state, its actor and the
actor's class, plus

* ``record_route`` — the request is to a record endpoint: it carries a record id and, when the
  user declared endpoints (``--endpoint``), its route is one of them;
* ``ok`` — a record-bearing success: 2xx except 204/205 (no content);
* ``rid`` — the record id as an integer when it is one (enumeration needs arithmetic);
* ``route_key`` — the route as a number (in the routes' order), for windows partitioned by route:
  as a partition key a route string costs two to three times an integer (routes share a long
  prefix, so they are compared whole);
* ``auth_ambiguous``/``auth_shared`` — a login shows someone at this address and browser logged
  in, not who made the request (auth.py): a finding with such requests never shows an
  unauthorised caller (detect.py).

Built once per detection run from ``request_facts`` (auth.py), its ``clients`` and ``events`` (the
strings request_facts leaves out) and the actor tables (actors.py).
"""

from __future__ import annotations

from forensics.store.case import Case


def build_detect_requests(case: Case) -> None:
    con = case.con
    declared = con.execute("SELECT count(*) FROM routes WHERE origin = 'declared'").fetchone()
    restrict = (
        "AND f.route IN (SELECT DISTINCT route FROM routes WHERE origin = 'declared')"
        if declared and declared[0]
        else ""
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE detect_requests AS
        SELECT f.source_id, f.line_no, f.ts, s.actor_id, a.class AS actor_class,
          c.client_ip, c.user_agent, coalesce(f.principal, f.twin_principal) AS principal,
          e.method, e.path, e.query, f.status,
          f.bytes_sent, f.route, rk.route_key, f.record_id, TRY_CAST(f.record_id AS BIGINT) AS rid,
          f.auth_state, f.auth_evidence, f.auth_ambiguous, f.auth_shared,
          coalesce(f.record_id IS NOT NULL {restrict}, false) AS record_route,
          coalesce(f.status BETWEEN 200 AND 299 AND f.status NOT IN (204, 205), false) AS ok
        FROM request_facts f
        JOIN clients c USING (client_key)
        JOIN events e USING (source_id, line_no)
        JOIN request_session rs USING (source_id, line_no)
        JOIN sessions s USING (session_id)
        JOIN actors a USING (actor_id)
        LEFT JOIN (SELECT row_number() OVER (ORDER BY route) AS route_key, route
                   FROM (SELECT DISTINCT route FROM routes)) rk ON rk.route = f.route
        WHERE NOT f.is_copy"""
    )
