"""Erasure removes the person's sentiment and topics rows (written by the voice stage, which the
rebuild after an erasure does not run), and nobody else's."""

from __future__ import annotations

import duckdb

from cxloop.erasure.store import _remove_voice
from cxloop.erasure.subject import Subject
from cxloop.tables import ensure_warehouse


def test_the_persons_texts_go_with_their_topics() -> None:
    con = duckdb.connect()
    ensure_warehouse(con)
    rows = [  # (text_id, kind, source_id, customer_id)
        ("survey_answer:R_1", "survey_answer", "R_1", "C1"),  # hers, by customer id
        ("survey_answer:R_2", "survey_answer", "R_2", None),  # hers, unresolved: by response
        ("ticket_comment:9", "ticket_comment", "9", "C1"),  # hers
        ("survey_answer:R_3", "survey_answer", "R_3", "C2"),  # someone else's
    ]
    for text_id, kind, source_id, customer_id in rows:
        con.execute(
            "insert into ml.text_sentiment (text_id, text_kind, source_id, customer_id, method, "
            "scored_at) values (?, ?, ?, ?, 'none', now())",
            [text_id, kind, source_id, customer_id],
        )
        con.execute(
            "insert into ml.text_topics values (?, 'billing', 'keyword', 1, now())", [text_id]
        )
        con.execute(  # what the text's rows were computed from: its id and its text's hash
            "insert into ml.voice_state values (?, 'sha', 'l', 's', 't', null, now())", [text_id]
        )
    subject = Subject(customer_ids={"C1"}, ids={("qualtrics_response", "R_2")})
    removed = _remove_voice(con, subject)
    assert removed == {"ml.voice_state": 3, "ml.text_topics": 3, "ml.text_sentiment": 3}
    left = con.execute("select text_id from ml.text_sentiment").fetchall()
    assert left == [("survey_answer:R_3",)]
    assert con.execute("select text_id from ml.text_topics").fetchall() == left
    assert con.execute("select text_id from ml.voice_state").fetchall() == left
