"""Whether Spark can run here: PySpark installed (the ``[spark]`` extra) and a Java 17+ runtime.

Imports nothing of Spark's, so the command line can say what is missing before it loads any of it."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

JAVA_MIN = 17


def spark_missing() -> str | None:
    """Why Spark cannot run here (no PySpark, no Java 17+), or None."""
    try:
        with warnings.catch_warnings():  # results reach the driver as rows, not through its pandas
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
            import pyspark.sql  # noqa: F401
    except ImportError:
        return (
            "--engine spark needs PySpark: install the [spark] extra "
            "(pip install 'access-log-forensics[spark]')"
        )
    if importlib.util.find_spec("sqlglot") is None:
        return (
            "--engine spark needs sqlglot: install the [spark] extra "
            "(pip install 'access-log-forensics[spark]')"
        )
    java = _java()
    if java is None:
        return (
            f"Spark needs Java {JAVA_MIN}+: no java on PATH or in JAVA_HOME; "
            f"install a Java {JAVA_MIN} or 21 runtime"
        )
    version = _java_major(java)
    if version is not None and version < JAVA_MIN:
        return (
            f"Spark needs Java {JAVA_MIN}+: {java} is Java {version}; install a Java {JAVA_MIN} or 21 runtime"
        )
    return None


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        return str(Path(home, "bin", "java"))
    return shutil.which("java")


def _java_major(java: str) -> int | None:
    try:
        text = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        return None
    major = int(m[1])
    return int(m[2] or 0) if major == 1 else major  # "1.8.0_…" is Java 8
