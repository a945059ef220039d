"""Apache Spark as a second engine for the same SQL (``forensics.spark``).

The derive, detect and assess SQL is written once, in DuckDB's dialect; ``dialect.to_spark`` carries
each statement to Spark SQL with sqlglot (the maintained SQL transpiler), adding the rewrites where
the two engines would otherwise disagree (1-based list indexing, full-match regular expressions,
ordered list aggregates, epoch seconds …). ``session.SparkConnection`` runs such statements on a
SparkSession behind the small part of DuckDB's connection interface the stages use, so a stage's
own code runs unchanged on either engine. PySpark is an optional extra (``[spark]``); nothing here
imports it until a session is asked for.
"""
