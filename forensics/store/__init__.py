"""The store: the DuckDB case file, its schema, the custody log, and the one home of the DuckDB helpers
(``db``: connecting, transactions, frame registration, SQL quoting). Every other stage builds on it;
it imports no other stage."""
