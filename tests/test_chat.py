"""Chat: one message per round that changed something, "failing" when a fault has held for the confirming
rounds and "back to normal" once healed, listed under whom each finding blames; flapping, skips, downtime and
ad-hoc runs never announce anything; what is due is decided from the rounds in the results directory, so a
fresh runner says what a long-lived one would."""

import json

import pytest

from lakeprobe.chat import changes
from lakeprobe.records import Record
from tests.helpers import Env


@pytest.mark.lab
def test_a_fault_then_its_healing_give_one_failing_and_one_back_to_normal_message(
    receiver, lab, lab_env, faulty, small_lake, run_suite, tmp_path
):
    url, received = receiver
    env = Env({**lab_env, "LAKEPROBE_CHAT_WEBHOOK": url})
    lake = small_lake()

    def round_(*extra):
        proc, _, _ = run_suite(
            "--inventory", lake, "--timeout", "10", "--chat", "mattermost", *extra, results=tmp_path, env=env
        )
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    assert round_().returncode == 0 and received == []  # a first healthy round has nothing to say
    faulty("XRD2", "down")
    round_()
    assert received == []  # one failing round is not yet a state (--chat-confirm 2)
    assert "chat: an ad-hoc run announces nothing" in round_("--rse", "XRD2").stdout
    assert "chat: 1 changes sent to the mattermost webhook at 127.0.0.1" in round_().stdout
    assert len(received) == 1
    failing = received[0]["text"]
    assert "lake small-lake" in failing and "failing" in failing and "back to normal" not in failing
    assert "- XRD2: XRD2 davs connection: fail (unreachable)" in failing and received[0]["username"] == "lakeprobe"
    assert "XRD1:" not in failing  # the copies into XRD2 skip: nothing implicates XRD1
    lab.heal("XRD2")
    round_()
    assert len(received) == 1
    assert round_().returncode == 0
    assert len(received) == 2
    back = received[1]["text"]
    assert "back to normal" in back and "failing" not in back and "XRD2 davs connection" in back
    assert url not in json.dumps(received) and all(url not in p.read_text() for p in tmp_path.glob("*.json*"))


def _rounds(statuses: list[str], blame="X") -> list[list[Record]]:
    return [
        [
            Record(
                run_id=f"r{i}",
                suite="site",
                check="upload",
                rse="X",
                status=s,
                blame=blame if s in ("fail", "error") else "",
            )
        ]
        for i, s in enumerate(statuses)
    ]


def _announced(statuses: list[str]) -> list[str]:
    """What each round announces, replaying the rounds up to it (as a fresh runner would)."""
    return [c.health for n in range(1, len(statuses) + 1) for c in changes(_rounds(statuses[:n]), confirm=2)]


def test_a_flapping_check_is_never_announced_and_a_held_state_once():
    assert _announced(["pass", "fail", "pass", "fail", "pass", "fail", "pass"]) == []
    # Neutral states neither confirm nor break a change; a held state is announced once.
    assert _announced(["fail", "skip", "fail", "downtime", "fail", "fail"]) == ["failing"]
    assert _announced(["fail", "fail", "pass", "warn", "pass"]) == ["failing", "ok"]


def test_a_finding_is_announced_under_whom_it_blames():
    rounds = _rounds(["fail", "fail"], blame="XRD2")
    for records in rounds:
        records[0].rse, records[0].peer, records[0].mode = "XRD1", "XRD2", "pull"
    due = changes(rounds, confirm=2)
    assert [(c.blame, c.series) for c in due] == [("XRD2", "XRD1->XRD2 pull upload")]


def test_a_cache_finding_is_announced_under_the_cache_or_under_its_origin():
    for blame in ("CACHE1", "XRD1"):
        rounds = _rounds(["fail", "fail"], blame=blame)
        for records in rounds:
            records[0].suite, records[0].check, records[0].rse, records[0].protocol = (
                "cache",
                "cache_read",
                "CACHE1",
                "root",
            )
        due = changes(rounds, confirm=2)
        assert [(c.blame, c.health) for c in due] == [(blame, "failing")]
        assert "CACHE1" in due[0].series and "cache_read" in due[0].series


def test_credential_findings_are_announced_by_protocol_and_copy():
    def rounds(check, rse, protocol, peer="", mode=""):
        return [
            [
                Record(
                    run_id=f"r{i}",
                    suite="credentials",
                    check=check,
                    rse=rse,
                    peer=peer,
                    protocol=protocol,
                    mode=mode,
                    status="fail",
                    error_class="security" if check.startswith("x509") else "auth_denied",
                    message="let another VO's proxy write",
                    blame="XRD2",
                )
            ]
            for i in range(2)
        ]

    other_vo = changes(rounds("x509_other_vo", "XRD2", "root"), confirm=2)
    assert [(c.blame, c.series) for c in other_vo] == [("XRD2", "XRD2 root x509_other_vo")]
    assert other_vo[0].detail.startswith("fail (security)")
    pull = changes(rounds("davs_pull_macaroon", "XRD2", "davs", "XRD1", "pull_macaroon"), confirm=2)
    assert [(c.blame, c.series) for c in pull] == [("XRD2", "XRD2->XRD1 davs pull_macaroon davs_pull_macaroon")]
