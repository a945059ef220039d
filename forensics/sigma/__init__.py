"""Sigma webserver rules over a case (issue 21): ``forensics sigma CASE RULES…``.

One job per module: ``fields`` maps Sigma's webserver taxonomy onto the events schema (the view
rules read), ``backend`` is a pySigma backend writing DuckDB SQL, ``pipeline`` is the processing
pipeline (field mapping, and failures that name why a rule cannot run), ``compile`` loads rule
files and converts them (every rule converted or listed with its reason), ``run`` executes them
inside the case and stores ``sigma_rules`` and ``sigma_matches``; the ``sigma`` detector
(detectors/sigma.py) turns the matches into findings.

pySigma is an optional dependency (extra ``sigma``): only ``compile`` and ``backend`` import it,
and ``require_pysigma`` says how to install it when it is missing.
"""
