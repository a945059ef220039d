"""Load Sigma rule files and convert every rule: compiled, or skipped with its reason.

Rules come from files or folders (``*.yml``/``*.yaml``, recursively, in path order); each file
is hashed (SHA-256 of its bytes as read) so the run can be repeated exactly. A file that is not
valid Sigma, a rule for another log source, a rule on a field the case has no column for, a
correlation rule, or a rule the backend cannot convert is listed in ``skipped`` with the reason —
nothing is left out silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from forensics.errors import SigmaError, SigmaUnavailableError
from forensics.sigma.fields import FIELDS, RAW_LINE

INSTALL_HINT = 'pip install "access-log-forensics[sigma]"'
SUFFIXES = (".yml", ".yaml")
# rule level -> finding severity (findings.json's severities are high, medium, low)
LEVELS = {"critical": "high", "high": "high", "medium": "medium", "low": "low", "informational": "low"}
DEFAULT_LEVEL = "medium"  # a rule without a level


@dataclass(frozen=True)
class RuleFile:
    path: str
    sha256: str


@dataclass(frozen=True)
class CompiledRule:
    key: str  # the rule's id, or path#n for a rule without one (unique in the run)
    rule_id: str | None
    title: str
    level: str | None
    description: str | None
    tags: tuple[str, ...]
    falsepositives: tuple[str, ...]
    path: str
    sha256: str
    sql: str  # a boolean expression over sigma_requests (and raw_line for keyword rules)
    keyword: bool  # reads the raw line

    @property
    def severity(self) -> str:
        return LEVELS.get(self.level or DEFAULT_LEVEL, "medium")


@dataclass(frozen=True)
class SkippedRule:
    path: str
    rule_id: str | None
    title: str | None
    reason: str


@dataclass(frozen=True)
class RuleSet:
    files: tuple[RuleFile, ...]
    rules: tuple[CompiledRule, ...]
    skipped: tuple[SkippedRule, ...]
    versions: dict[str, str]

    @property
    def loaded(self) -> int:
        return len(self.rules) + len(self.skipped)


def require_pysigma() -> None:
    try:
        import sigma.conversion.base  # noqa: F401
    except ImportError:
        raise SigmaUnavailableError(
            f"Sigma rules need pySigma, an optional dependency: {INSTALL_HINT}"
        ) from None


def versions() -> dict[str, str]:
    out = {}
    for dist in ("pysigma",):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - require_pysigma ran first
            out[dist] = "unknown"
    return out


def rule_files(paths: list[str]) -> list[Path]:
    """The rule files under ``paths`` (files as given, folders searched), in path order."""
    found: list[Path] = []
    for text in paths:
        p = Path(text)
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES))
        elif p.is_file():
            found.append(p)
        else:
            raise SigmaError(f"rules {text!r}: no such file or folder")
    if not found:
        raise SigmaError(f"no Sigma rule files (*.yml, *.yaml) in {', '.join(paths)}")
    return found


def compile_rules(paths: list[str]) -> RuleSet:
    """Every rule under ``paths``, converted to DuckDB SQL or listed as skipped with its reason."""
    require_pysigma()
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    from sigma.exceptions import SigmaError as PySigmaError
    from sigma.rule import SigmaRule
    from yaml import YAMLError  # PyYAML: pySigma's YAML reader

    from forensics.sigma.backend import DuckDBBackend
    from forensics.sigma.pipeline import webserver_pipeline

    files: list[RuleFile] = []
    rules: list[CompiledRule] = []
    skipped: list[SkippedRule] = []
    keys: set[str] = set()
    for path in rule_files(paths):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        files.append(RuleFile(str(path), digest))
        try:
            collection = SigmaCollection.from_yaml(data.decode("utf-8"), collect_errors=True)
        except (PySigmaError, YAMLError, UnicodeDecodeError, ValueError) as exc:
            skipped.append(SkippedRule(str(path), None, None, f"not a Sigma rule file: {exc}"))
            continue
        for n, rule in enumerate(collection.rules, 1):
            rid = str(rule.id) if getattr(rule, "id", None) else None
            title = str(rule.title) if rule.title else None
            if not isinstance(rule, SigmaRule):
                kind = "correlation rule" if isinstance(rule, SigmaCorrelationRule) else type(rule).__name__
                skipped.append(SkippedRule(str(path), rid, title, f"{kind}s are not supported"))
                continue
            if rule.errors:
                reason = "; ".join(str(e) for e in rule.errors)
                skipped.append(SkippedRule(str(path), rid, title, f"invalid rule: {reason}"))
                continue
            unknown = sorted(_fields(rule) - set(FIELDS))
            category = rule.logsource.category
            if unknown and category == "webserver":
                mapped = ", ".join(sorted(FIELDS))
                reason = f"field {', '.join(unknown)} has no column in the case (mapped: {mapped})"
                skipped.append(SkippedRule(str(path), rid, title, reason))
                continue
            backend = DuckDBBackend(webserver_pipeline())
            try:
                queries = backend.convert_rule(rule)
            except (PySigmaError, NotImplementedError) as exc:
                skipped.append(SkippedRule(str(path), rid, title, _reason(exc)))
                continue
            if len(queries) != 1 or not isinstance(queries[0], str):
                skipped.append(SkippedRule(str(path), rid, title, f"converted to {len(queries)} queries"))
                continue
            key = rid or f"{path}#{n}"
            if key in keys:
                skipped.append(
                    SkippedRule(str(path), rid, title, f"rule id {key} already loaded from another file")
                )
                continue
            keys.add(key)
            sql = queries[0]
            rules.append(
                CompiledRule(
                    key=key,
                    rule_id=rid,
                    title=title or key,
                    level=str(rule.level.name).lower() if rule.level else None,
                    description=str(rule.description) if rule.description else None,
                    tags=tuple(str(t) for t in rule.tags),
                    falsepositives=tuple(str(f) for f in rule.falsepositives or ()),
                    path=str(path),
                    sha256=digest,
                    sql=sql,
                    keyword=RAW_LINE in sql,
                )
            )
    return RuleSet(tuple(files), tuple(rules), tuple(skipped), versions())


def _fields(rule: Any) -> set[str]:
    """The field names a rule's detections use (keyword items have none)."""
    names: set[str] = set()

    def walk(item: Any) -> None:
        for sub in getattr(item, "detection_items", ()):
            walk(sub)
        field = getattr(item, "field", None)
        if field is not None and not hasattr(item, "detection_items"):
            names.add(str(field))

    for detection in rule.detection.detections.values():
        walk(detection)
    return names


def _reason(exc: BaseException) -> str:
    text = str(exc)
    cut = text.find(" (while converting")
    return text[:cut] if cut > 0 else text
