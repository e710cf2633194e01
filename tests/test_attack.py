"""The one-minute form of bench/attack.py against a real ``dotui serve`` under ``ulimit -n 1024``.

One run (``--quick``) serves every test: six attacks, each on a fresh server over
one data folder, then a last server reads back every acknowledged write. Each
test checks one target of one attack, with no timing threshold: the server's
peak RSS at most +100 MB over idle; every attack connection closed by the server
(the harness waits the documented timeout, set to 2 s in --quick, plus 3 s);
every call of the token holder answered (a call the harness gave up on after
10 s is failed; the 1 s latency target is the harness's own, bench/README.md);
the malformed and smuggling heads refused with a 4xx and a close, none run; 0
acknowledged writes lost.

An attack main does not withstand is marked xfail(strict=True) with the bound
it lacks, so the mark fails the moment the bound lands and comes off then (none
is marked today: every target is met).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# One xdist group: the module fixture runs the harness once per worker that gets a test of this module, so
# spread over four workers it ran four times over (76-139 s each under load).
pytestmark = [pytest.mark.hostile, pytest.mark.slow, pytest.mark.xdist_group("attack")]

ATTACKS = [
    "pipelined_no_read",
    "idle_and_half_sent",
    "slow_websocket_readers",
    "fragment_flood",
    "oversized_heads",
    "smuggling_heads",
]


def case(attack: str, check: str, *marks):
    return pytest.param(attack, check, marks=list(marks), id=f"{attack}-{check}")


CASES = [
    case("pipelined_no_read", "rss"),
    case("pipelined_no_read", "closed"),
    case("pipelined_no_read", "holder_answered"),
    case("idle_and_half_sent", "rss"),
    case("idle_and_half_sent", "closed"),
    case("idle_and_half_sent", "holder_answered"),
    case("slow_websocket_readers", "rss"),
    case("slow_websocket_readers", "closed"),
    case("slow_websocket_readers", "holder_answered"),
    case("fragment_flood", "rss"),
    case("fragment_flood", "closed"),
    case("fragment_flood", "holder_answered"),
    case("oversized_heads", "rss"),
    case("oversized_heads", "closed"),
    case("oversized_heads", "refused"),
    case("oversized_heads", "holder_answered"),
    case("smuggling_heads", "closed"),
    case("smuggling_heads", "refused"),
    case("smuggling_heads", "holder_answered"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("attack")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "attack.py"), "--quick", "--json", "--base", str(base)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.stdout.strip(), f"the attack harness printed nothing: {proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["by_name"] = {a["name"]: a for a in report["attacks"]}
    return report


def test_every_attack_ran_on_a_server_that_survived_it(report):
    assert list(report["by_name"]) == ATTACKS
    for name, a in report["by_name"].items():
        assert "harness_error" not in a["extra"], (name, a["extra"])
        assert a["server_died"] is None, (name, a["server_died"])
        assert a["holder_calls"] > 0 and a["attack_conns"] > 0, (name, a)


@pytest.mark.parametrize("attack, check", CASES)
def test_attack_target(report, attack, check):
    a = report["by_name"][attack]
    if check == "rss":
        assert a["checks"]["rss"], f"peak RSS {a['peak_mb']:.0f} MB over an idle {a['idle_mb']:.0f} MB"
    elif check == "closed":
        assert a["checks"]["closed"], f"{a['closed']} of {a['attack_conns']} attack connections closed by the server"
    elif check == "holder_answered":
        assert a["holder_failed"] == 0, (
            f"{a['holder_failed']} of the token holder's {a['holder_calls']} calls "
            f"failed: {a['extra'].get('holder_errors')}"
        )
    else:
        assert a["checks"]["refused"], a["extra"]


def test_no_acknowledged_write_is_lost(report):
    back = report["read_back"]
    assert back["holder_acked"] > 0 and back["posts_acked"] > 0
    assert back["lost"] == [], back["lost"]
