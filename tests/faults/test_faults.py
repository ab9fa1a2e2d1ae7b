"""Fault injection: Watchkeeper against its own PostgreSQL and Redis (tests/faults/servers.py)
that the tests stop, restart or kill while real work runs in another process
(tests/faults/scenario.py). docs/reliability.md lists the guarantees these tests hold.

1. PostgreSQL restarted while a poll scores: the claim is released, the poll is recorded as
   failed, the next poll scores the snapshot left unscored.
2. The worker SIGKILLed, or PostgreSQL restarted, between the SMTP server accepting a
   reminder and the row being marked sent: that one reminder is sent again after the lease,
   with the same Message-ID; every other one exactly once, none waiting out the lease.
4. The live lab's manager restarted (its dockerd stopped, then started: its workers
   "unknown" for seconds): no node-down, finding or unreachable mail; a 3-minute outage: one
   "unreachable" and one "back"; a worker really down: one "node down". The product's clock is
   the test's (each poll 10 s or a minute later), so minutes of policy pass in seconds. The
   same with the lab's recorded answers and real refused connections, on a fixed timeline.
5. Redis stopped: sign-in, the fleet and cluster pages answer 200, "poll now" says the queue
   is unavailable, /healthz answers 503 naming the broker.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab import ServiceSpec
from maintenance.services import outbox
from tests.maintenance.smtpserver import SMTPServer

from .servers import OwnPostgres, OwnRedis, missing

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 120


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    why = missing()
    if why:
        pytest.skip(why)
    postgres, redis = OwnPostgres(), OwnRedis()
    postgres.create()
    redis.start()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=postgres.url,
        REDIS_URL=redis.url,
        WATCHKEEPER_VAR_DIR=str(tmp_path_factory.mktemp("var")),
        PYTHONPATH=str(ROOT),
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
                   cwd=ROOT, env=env, check=True, timeout=600)  # fmt: skip
    try:
        yield postgres, redis, env
    finally:
        redis.stop()
        postgres.destroy()


class Scenario:
    """tests/faults/scenario.py NAME ARGS in its own process: wait for its PAUSE, go on."""

    def __init__(self, env: dict, name: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.scenario", name, *args],
            cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        reader = threading.Thread(target=self._read, args=(self.proc.stdout, self.lines))
        reader.daemon = True
        reader.start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    @staticmethod
    def _read(stream, lines) -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def expect(self, prefix: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=STEP_TIMEOUT)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no {prefix!r}: {''.join(self.stderr)[-3000:]}") from None
            if line is None:
                self.proc.wait(timeout=30)
                raise AssertionError(f"ended before {prefix!r}: {''.join(self.stderr)[-3000:]}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def go_on(self, line: str = "") -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def result(self) -> dict:
        data = json.loads(self.expect("RESULT"))
        self.proc.wait(timeout=60)
        return data


def run(env: dict, name: str, *args: str) -> dict:
    return Scenario(env, name, *args).result()


def test_postgres_restarted_while_a_poll_scores(servers):
    postgres, _redis, env = servers
    scenario = Scenario(env, "poll_scoring")
    scenario.expect("PAUSE scoring")
    postgres.restart()  # the poll's connection is gone
    scenario.go_on()
    data = scenario.result()
    assert data["first"] == "database"  # recorded as failed, on a fresh connection
    assert data["claimed_after_first"] is None  # the claim released, not left for 5 minutes
    assert data["second"] == "refused"
    assert data["runs"] == [[True, ""], [False, "database"], [False, "refused"]]
    assert len(data["snapshots"]) == 1
    assert data["evaluated"] == data["snapshots"]  # the next poll scored what was left


@pytest.mark.parametrize("fault", ["sigkill", "postgres_restart"])
def test_a_reminder_accepted_but_not_marked_sent_goes_out_once_more_with_its_id(servers, fault):
    postgres, _redis, env = servers
    with SMTPServer() as smtp:
        env = dict(env, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port))
        assert run(env, "reminders_enqueue", "6")["created"] == 6
        sender = Scenario(env, "reminders_send", "1", "1")
        held = sender.expect("PAUSE accepted")
        if fault == "sigkill":
            sender.proc.kill()
            sender.proc.wait(timeout=30)
        else:
            postgres.restart()
            sender.go_on()
            assert sender.result()["error"] == "OperationalError"  # marking sent failed
        assert smtp.handler.message_ids() == {held: 1}

        within_lease = run(env, "reminders_send", "2", "0")
        assert within_lease["error"] == "" and within_lease["sent"] == 5  # none waits
        assert within_lease["statuses"][held] == "sending"
        after_lease = run(env, "reminders_send", str(2 + outbox.LEASE.total_seconds() / 60), "0")
        assert after_lease["sent"] == 1
        ids = smtp.handler.message_ids()
        assert ids[held] == 2  # the documented duplicate, with the same Message-ID
        assert sorted(ids.values()) == [1, 1, 1, 1, 1, 2]
        assert set(after_lease["statuses"].values()) == {"sent"}
        run(env, "reminders_send", "60", "0")
        assert smtp.handler.message_ids() == ids  # nothing more, ever
    _clear_reminders(env)


def _clear_reminders(env: dict) -> None:
    code = (
        "import django; django.setup(); from maintenance.models import Reminder; "
        "from clusters.models import Cluster; Reminder.objects.all().delete(); "
        "Cluster.objects.filter(name='mailed').delete()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)


def test_a_manager_restart_mails_no_node_down_and_a_long_outage_mails_once_each(servers):
    _postgres, _redis, env = servers
    data = run(env, "manager_restart")
    baseline = data["baseline"]
    assert data["after_short"] == baseline  # 60 s refused, workers unknown: not one mail
    long = data["after_long"]
    assert long.pop("cluster_unreachable") == 1 and long.pop("cluster_back") == 1
    assert long == baseline


def test_with_redis_stopped_sign_in_and_pages_work_and_healthz_names_the_broker(servers):
    _postgres, redis, env = servers
    redis.stop()
    try:
        data = run(env, "redis_down")
    finally:
        redis.start()
    assert data["login"] == [302, "/"]
    assert data["cluster_page"] == 200 and data["fleet"] == 200
    assert data["poll_now"] == [200, True]
    status, text = data["healthz"]
    assert status == 503
    lines = text.splitlines()
    assert lines[0] == "unavailable: broker"
    assert "database: ok" in lines and "broker: down (OperationalError)" in lines
    assert "cache: down (ConnectionError) [optional]" in lines


class LabPolls:
    """The scenario `lab_polls`: each poll of the live lab STEP seconds later on the product's
    clock than the one before, whatever the real time between them."""

    def __init__(self, env: dict, url: str) -> None:
        self.scenario = Scenario(env, "lab_polls", url)
        self.second = -10

    def poll(self, step: int = 10) -> dict:
        self.second += step
        self.scenario.go_on(f"poll {self.second}")
        return dict(json.loads(self.scenario.expect("POLLED")), second=self.second)

    def until_all_ready(self) -> list[dict]:
        """Poll until the manager answers and every node is ready again; those polls."""
        seen = []
        while len(seen) < 300:
            seen.append(self.poll())
            if seen[-1]["ok"] and set(seen[-1]["states"].values()) == {"ready"}:
                return seen
            time.sleep(0.2)
        raise AssertionError(f"the lab did not come back: {seen[-3:]}")


@pytest.mark.lab
def test_the_live_labs_manager_restarted_mails_no_node_down_and_an_outage_once_each(
    servers, make_lab
):
    _postgres, _redis, env = servers
    lab = make_lab()  # its own lab: the session lab's manager stays up for the other tests
    workers = lab.hostnames[1:]
    web = lab.create_service(ServiceSpec(name="web", replicas=2, constraints=["node.role==worker"]))
    lab.wait_converged(web)
    polls = LabPolls(env, lab.docker_host)
    first = polls.poll()
    assert first["ok"] and set(first["states"].values()) == {"ready"}
    baseline = first["mails"]

    lab.stop_node(lab.manager)  # the manager's dockerd stopped: 60 s of refused polls
    refused = [polls.poll() for _ in range(6)]
    assert not any(p["ok"] for p in refused)
    # The workers reconnect within seconds; paused meanwhile (less than the ~11 s after which
    # the manager would mark them down), they stay "unknown" for 3 polls a minute apart:
    # longer than the 2-minute grace on the product's clock.
    for worker in workers:
        lab.pause_node(worker)
    try:
        lab.start_node(lab.manager)
        settling = [polls.poll(step=60) for _ in range(3)]
    finally:
        for worker in workers:
            lab.resume_node(worker)
    assert all(p["ok"] for p in settling)
    assert [sorted(set(p["states"][w] for w in workers)) for p in settling] == [["unknown"]] * 3
    polls.until_all_ready()
    after = [polls.poll() for _ in range(24)]  # 4 minutes more, past every grace
    assert all(p["ok"] for p in after)
    assert after[-1]["mails"] == baseline  # not one node-down, finding or unreachable mail

    lab.stop_node(lab.manager)  # 3 minutes unreachable
    outage = [polls.poll() for _ in range(18)]
    assert outage[-1]["mails"] == dict(baseline, cluster_unreachable=1)
    lab.start_node(lab.manager)
    polls.until_all_ready()
    after = [polls.poll() for _ in range(6)]
    assert after[-1]["mails"] == dict(baseline, cluster_unreachable=1, cluster_back=1)

    lab.stop_node(workers[1])  # the control: a worker really down is mailed, once
    lab.wait_node_state(workers[1], "down")
    down = [polls.poll() for _ in range(18)]
    assert all(p["ok"] for p in down) and down[-1]["states"][workers[1]] == "down"
    assert down[-1]["mails"].get("node_down") == 1
    lab.start_node(workers[1])
    polls.scenario.go_on("end")
    assert polls.scenario.result()["mails"]["node_down"] == 1
