"""The fleet's worker RSS is the worker's own peak, not the bench process's it was spawned from
(Linux hands the parent's peak to a spawned child's getrusage ru_maxrss)."""

import multiprocessing
import resource

from bench.fleet import peak_rss_kib


def _report(results) -> None:
    results.put((peak_rss_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def test_a_spawned_worker_reports_its_own_peak_not_its_parents():
    ballast = bytearray(300 * 1024**2)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))  # touched: resident
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_report, args=(results,))
    child.start()
    own, inherited = results.get(timeout=60)
    child.join(timeout=30)
    del ballast
    assert inherited > 300 * 1024  # what ru_maxrss says: at least the parent's 300 MiB
    assert own < 150 * 1024  # the child itself: an interpreter and bench.fleet
