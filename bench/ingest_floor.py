"""What ingest of combined logs cannot go below on this machine: DuckDB's own floors.

Run on demand (it is not a test)::

    python bench/ingest_floor.py --lines 2000000

Each case is a whole child process (Python start, ``import duckdb``, a fresh case file with the
events table from ``forensics.store.schema``) under bench/ingest_bench.py's wrapper, on the same
generated combined log as ingest_bench.py:

* ``read``: count the lines with the ``read_csv`` call forensics reads raw lines with;
* ``stage``: number the lines into a temp table, as forensics stages them;
* ``csv-typed-insert``: DuckDB's CSV reader splits each line on spaces and quotes into typed
  columns (no line numbers, no validation, no reject handling) and they are inserted into the
  events table: the cheapest way DuckDB can store the same columns;
* ``staged-split-insert``: staged numbered lines, split on quotes and spaces by string functions
  (no validation), inserted into the events table;
* ``forensics ingest`` itself, for comparison.

These are floors, not alternatives: they skip what makes the real ingest exact (validation,
the regex fallbacks, rejects with reasons, the request-line split, time zone offsets).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import FORENSICS, PY, git_state, measure
from loggen import write_big

HERE = Path(__file__).resolve().parent

CHILD = """
import sys
import duckdb
from forensics.ingest.linereader import duckdb_lines_sql, read_lines_call
from forensics.store.schema import EVENT_COLUMNS, create_table_sql
from forensics.formats.sqltext import sql_str
case, path, what = sys.argv[1:4]
con = duckdb.connect(case)
con.execute("SET TimeZone = 'UTC'")
con.execute("SET memory_limit = '1GB'")
con.execute(create_table_sql("events"))
comp = "gzip" if path.endswith(".gz") else "none"
if what == "read":
    con.execute(f"SELECT count(*) FROM {read_lines_call(sql_str(path), comp)}").fetchall()
elif what == "stage":
    con.execute(f"CREATE TEMP TABLE staged AS {duckdb_lines_sql(path, comp)}")
elif what == "csv-typed-insert":
    con.execute("SET preserve_insertion_order = false")
    cols = ("{'ip': 'VARCHAR', 'ident': 'VARCHAR', 'user': 'VARCHAR', 't1': 'VARCHAR', "
            "'t2': 'VARCHAR', 'req': 'VARCHAR', 'status': 'VARCHAR', 'bytes': 'VARCHAR', "
            "'ref': 'VARCHAR', 'ua': 'VARCHAR'}")
    con.execute(f'''
        INSERT INTO events (source_id, line_no, ts, client_ip, principal, method, path, protocol,
                            status, bytes_sent, referer, user_agent)
        SELECT 1, 0, try_strptime(t1 || ' ' || t2, '[%d/%b/%Y:%H:%M:%S %z]'), ip, user,
               split_part(req, ' ', 1), split_part(req, ' ', 2), split_part(req, ' ', 3),
               TRY_CAST(status AS SMALLINT), TRY_CAST(bytes AS BIGINT), ref, ua
        FROM read_csv({sql_str(path)}, delim=' ', quote='"', escape='\\\\', header=false,
                      auto_detect=false, columns={cols}, compression={sql_str(comp)},
                      ignore_errors=true, null_padding=true, strict_mode=false)''')
elif what == "staged-split-insert":
    con.execute(f"CREATE TEMP TABLE staged AS {duckdb_lines_sql(path, comp)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute('''
        INSERT INTO events (source_id, line_no, ts, client_ip, principal, method, path, protocol,
                            status, bytes_sent, referer, user_agent)
        SELECT 1, line_no, try_strptime(w[4] || ' ' || w[5], '[%d/%b/%Y:%H:%M:%S %z]'), w[1], w[3],
               r[1], r[2], r[3], TRY_CAST(s[2] AS SMALLINT), TRY_CAST(s[3] AS BIGINT), q[4], q[6]
        FROM (SELECT line_no, q, string_split(q[1], ' ') AS w, string_split(q[2], ' ') AS r,
                     string_split(q[3], ' ') AS s
              FROM (SELECT line_no, string_split(line, '"') AS q FROM staged))''')
con.close()
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=20240331)
    ap.add_argument("--gzip", action="store_true", help="read the .gz file instead of the plain one")
    ap.add_argument("--workdir", type=Path, default=HERE / "work")
    ap.add_argument("--skip-forensics", action="store_true", help="do not run forensics ingest itself")
    args = ap.parse_args(argv)
    work: Path = args.workdir.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    plain, gz = write_big(work, args.lines, args.seed)
    path = gz if args.gzip else plain
    case = work / "floor-case.duckdb"
    print(f"{git_state()}; {path.name}, {args.lines:,} lines")
    cases = ["read", "stage", "csv-typed-insert", "staged-split-insert"]
    rows = []
    for what in cases + ([] if args.skip_forensics or FORENSICS is None else ["forensics ingest"]):
        for p in (case, case.with_name(case.name + ".wal")):
            p.unlink(missing_ok=True)
        if what == "forensics ingest":
            cmd = [str(FORENSICS), "ingest", str(case), str(path)]
        else:
            cmd = [PY, "-c", CHILD, str(case), str(path), what]
        res = measure(cmd, work / "logs" / f"floor-{what}.log")
        rows.append((what, res))
        print(
            f"  {what}: {res['wall']:.2f} s, {res['cpu']:.1f} CPU-s, {res['maxrss_kb'] / 1024:.0f} MB, "
            f"other load {res['other_cpus']:.2f} CPUs",
            flush=True,
        )
    print("\n| case | seconds | lines/s | CPU s | peak RSS MB | other load |\n|---|---|---|---|---|---|")
    for what, res in rows:
        print(
            f"| {what} | {res['wall']:.2f} | {args.lines / res['wall']:,.0f} | {res['cpu']:.1f} "
            f"| {res['maxrss_kb'] / 1024:,.0f} | {res['other_cpus']:.2f} |"
        )
    for p in (case, case.with_name(case.name + ".wal")):
        p.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
