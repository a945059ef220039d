"""Spark's errors reach the user as one line (SparkFailedError), and a local master gets memory for
the case (forensics/spark/session.py). Needs PySpark importable, not Java."""

from __future__ import annotations

import pytest

pytest.importorskip("pyspark")

from pyspark.errors import PySparkException

from forensics.errors import SparkFailedError
from forensics.spark.session import SPARK_MEMORY_ENV, default_driver_memory, spark_errors


def test_a_spark_error_becomes_one_line_with_what_to_try() -> None:
    with pytest.raises(SparkFailedError) as caught, spark_errors():
        raise PySparkException(
            "\n[BROADCAST] Not enough memory to build and broadcast the table to all worker nodes.\n"
            "\tat org.apache.spark.sql.execution…"
        )
    text = str(caught.value)
    assert text.startswith("Spark stopped with an error: [BROADCAST] Not enough memory")
    assert "\n" not in text and "org.apache" not in text
    assert "FORENSICS_SPARK_MEMORY" in text
    with pytest.raises(SparkFailedError, match=r"a task failed$"), spark_errors():
        raise PySparkException("a task failed")


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), spark_errors():
        raise KeyError("not Spark's")


def test_a_local_master_gets_a_quarter_of_the_memory_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPARK_MEMORY_ENV, raising=False)
    assert default_driver_memory(24 * 2**30) == "6g"
    assert default_driver_memory(4 * 2**30) == "2g"
    assert default_driver_memory(256 * 2**30) == "8g"
    assert default_driver_memory(None) in {"2g", "3g", "4g", "5g", "6g", "7g", "8g"}
    monkeypatch.setenv(SPARK_MEMORY_ENV, "12g")
    assert default_driver_memory(24 * 2**30) == "12g"
