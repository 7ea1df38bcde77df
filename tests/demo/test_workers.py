"""The generator's worker processes: a worker that dies or stalls is reported, not waited on
in silence (cxloop/demo/workers.py)."""

from __future__ import annotations

import pytest

from cxloop.demo.workers import WorkerError, Writers, receive, send


@pytest.fixture
def writer():
    """One real worker, past its imports: it has answered one (failing) part."""
    writers = Writers(1)
    writers.start()
    try:
        send(writers.procs[0].stdin, None)  # the "world"
        send(writers.procs[0].stdin, "no.such.part")
        status, value = receive(writers.procs[0].stdout)
        assert status == "error" and "AttributeError" in value
        yield writers
    finally:
        writers.close()


def test_a_stalled_worker_shows_its_stack_and_keeps_running(writer, capsys) -> None:
    # the worker answered its last part; on a busy machine it may still be finishing it when
    # asked, so it is asked again until its stack shows it waiting for the next part
    for _ in range(5):
        writer._warn_stalled({0: ["zendesk.tickets"]}, 300.0)
        err = capsys.readouterr().err
        assert "no part finished in 300 s (worker 0 on zendesk.tickets)" in err
        assert "File " in err  # a stack, whatever the worker was doing
        if "in receive" in err:
            break
    assert "in receive" in err and "in serve" in err  # the worker waits for its next part
    assert writer.procs[0].poll() is None


def test_a_worker_that_exited_with_parts_queued_is_an_error(writer) -> None:
    writer._check_alive({0: []})  # nothing queued: nothing to say
    writer.procs[0].kill()
    writer.procs[0].wait()
    with pytest.raises(WorkerError, match=r"worker 0 exited \(code -9\) writing salesforce"):
        writer._check_alive({0: ["salesforce", "qualtrics"]})
