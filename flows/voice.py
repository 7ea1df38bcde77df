"""The `voice` flow: language, sentiment and topics of every open-text answer and customer
ticket comment (cxloop.voice), then mart_drivers rebuilt on them (docs/voice.md).

Reads only the new and changed texts of ml.voice_texts (dbt; cxloop.voice.changed), retrains
the sentiment model when the labelled answers changed, writes ml.text_sentiment and
ml.text_topics (recorded in ops.builds, so act and publish wait for their check), and the
report under $CXLOOP_HOME/reports. In the pipeline, `build_downstream` is off: the pipeline
rebuilds mart_drivers in the same dbt invocation as the scores' dims.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from cxloop.churn.training import resolve_paths
from cxloop.config import VoiceConfig, project_config
from cxloop.flows.build import build
from cxloop.flows.orchestration import stage_run_id, warehouse_slot
from cxloop.quality.gate import recorded_build
from cxloop.settings import Settings
from cxloop.tables import TEXT_SENTIMENT, TEXT_TOPICS
from cxloop.voice.changed import detect_languages_of_changed, labelled_answers, read_work
from cxloop.voice.report import sentiment_report, stored_summary, write_report
from cxloop.voice.reuse import voice_rows, write_voice
from cxloop.voice.sentiment import train_or_reuse

# Everything dbt builds on the voice tables (stg_ml__text_*, mart_drivers).
VOICE_DOWNSTREAM = "source:ml.text_sentiment+ source:ml.text_topics+"

languages_task = task(
    detect_languages_of_changed, name="detect-languages-of-changed", cache_policy=NO_CACHE
)
labelled_task = task(labelled_answers, name="read-labelled-answers", cache_policy=NO_CACHE)
train_task = task(train_or_reuse, name="train-or-reuse-sentiment-model", cache_policy=NO_CACHE)
work_task = task(read_work, name="read-texts-with-work", cache_policy=NO_CACHE)
rows_task = task(voice_rows, name="score-and-tag-changed-texts", cache_policy=NO_CACHE)
write_task = task(write_voice, name="write-voice-tables", cache_policy=NO_CACHE)
summary_task = task(stored_summary, name="count-voice-tables", cache_policy=NO_CACHE)
report_task = task(write_report, name="write-sentiment-report", cache_policy=NO_CACHE)


@flow(name="voice")
def voice(
    warehouse: str | None = None,
    models_dir: str | None = None,
    config_path: str | None = None,
    build_downstream: bool = True,
    full: bool = False,
) -> dict[str, Any]:
    """Score and tag the new and changed texts (`full`: every text), keep the others' rows,
    report held-out accuracy per language, rebuild mart_drivers."""
    config = project_config(config_path)
    settings = config.voice if config else VoiceConfig()
    paths = Settings().paths.ensure()
    warehouse_path, models_path = resolve_paths(paths, warehouse, models_dir)
    run_id = stage_run_id("voice")
    with warehouse_slot():
        detected = languages_task(warehouse_path, full)
        state = train_task(
            labelled_task(warehouse_path, detected, full),
            models_path,
            settings.min_train_answers,
            settings.min_test_answers,
        )
        work = work_task(
            warehouse_path, models_path, state, settings.learned_topics, detected, full
        )
        with recorded_build(warehouse_path, run_id, "voice") as changed:
            voiced = rows_task(
                work.texts,
                state,
                work.previous,
                models_path,
                settings.learned_topics,
                reuse=not full,
                scope=work.scope,
            )
            # quoted: Prefect would walk its lists of text ids one by one (every text on a
            # first run) looking for task results among them
            write_task(warehouse_path, quote(voiced))
            changed.extend([TEXT_SENTIMENT.qualified, TEXT_TOPICS.qualified])
        counts, topics = summary_task(warehouse_path)
    report = sentiment_report(counts, state)
    report_paths = report_task(report, paths.reports)
    get_run_logger().info(
        "Sentiment of %d texts (%s); held-out accuracy %s; too little data: %s",
        report["texts"],
        report["by_method"],
        report["held_out_accuracy"],
        report["too_little_data"] or "none",
    )
    summary: dict[str, Any] = {
        "sentiment": report,
        "topics": topics,
        "computed": voiced.stats,
        "reports": [str(p) for p in report_paths],
        "datasets": [TEXT_SENTIMENT.qualified, TEXT_TOPICS.qualified],
        "build_id": run_id,
    }
    if build_downstream:
        summary["build"] = build(config_path, select=VOICE_DOWNSTREAM)
    return summary
