"""Records: a status or error class outside the documented ones cannot be built (nor set later), so a typo
never reaches a sink; records of earlier versions still read."""

import json

import pytest

from lakeprobe.errors import ErrorClass
from lakeprobe.records import Record, Status, read_jsonl


def test_a_record_takes_only_known_statuses_and_classes():
    with pytest.raises(ValueError):
        Record(run_id="r", suite="site", check="upload", status="passed")
    with pytest.raises(ValueError):
        Record(run_id="r", suite="site", check="upload", error_class="checksum-mismatch")
    record = Record(run_id="r", suite="site", check="upload")
    with pytest.raises(ValueError):
        record.status = "failed"
    record.status, record.error_class = "fail", "no_space"
    assert record.status is Status.FAIL and record.error_class is ErrorClass.NO_SPACE
    with pytest.raises(ValueError):
        Record(run_id="r", suite="site", check="upload", run_kind="weekly")


def test_records_round_trip_through_jsonl_and_old_files_still_read(tmp_path):
    record = Record(
        run_id="r",
        suite="site",
        check="upload",
        rse="XRD1",
        status="warn",
        error_class="slow",
        message='say "hi"',
        blame="XRD1",
    )
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record.to_dict()) + "\n")
    assert read_jsonl(path) == [record]
    old = {k: v for k, v in record.to_dict().items() if k not in ("lake", "run_kind", "blame")}
    path.write_text(json.dumps({**old, "retired_field": 1}) + "\n")
    assert read_jsonl(path)[0].run_kind == "round" and read_jsonl(path)[0].lake == ""
    assert json.loads(json.dumps(record.to_dict()))["status"] == "warn"
