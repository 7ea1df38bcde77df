"""`generate()`: write a complete demo sources folder in the source systems' real formats."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from cxloop.demo.activity import simulate_activity
from cxloop.demo.qualtrics import write_qualtrics
from cxloop.demo.salesforce import write_salesforce
from cxloop.demo.truth import write_project_config, write_truth
from cxloop.demo.world import build_world
from cxloop.demo.zendesk import ZendeskIds, write_zendesk

OUTPUT_PARTS = ("salesforce", "zendesk", "qualtrics", "_truth", "cxloop.yaml")
MARKER = ".cxloop-demo"  # written first, so an interrupted run can be generated over


def generate(
    out: Path,
    scale: float = 1.0,
    seed: int = 42,
    as_of: date = date(2026, 11, 1),
    term_fields: bool = False,
) -> dict[str, int]:
    """Write Salesforce, Zendesk and Qualtrics exports, the truth and cxloop.yaml under `out`.

    Deterministic for (scale, seed, as_of): the same arguments give byte-identical files.
    Salesforce is a standard org (churn from renewal opportunities) unless `term_fields`, which
    adds the custom term fields to Opportunity and sets the churn method term_fields.
    Returns the number of data rows (records) written per output entity.
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    out = Path(out)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by the cxloop demo generator (flows.demo)\n")
    world = build_world(scale, seed, as_of)
    activity = simulate_activity(world)
    ids = ZendeskIds(world, activity)
    counts = write_salesforce(world, out, term_fields)
    counts |= write_zendesk(world, activity, out, ids)
    ticket_ids = [t.zendesk_id for t in activity.tickets]
    q_counts, response_truth = write_qualtrics(world, activity, out, ticket_ids)
    counts |= q_counts
    counts |= write_truth(world, out, ids.user, ids.org, response_truth)
    write_project_config(out, term_fields)
    return counts


def _clear_previous(out: Path) -> None:
    """Remove what an earlier run wrote (page counts differ between scales); nothing else.

    Refuses to touch a folder that has source folders but not our marker file.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder (expected a folder for the demo)")
    ours = (out / MARKER).is_file()
    present = [p for p in OUTPUT_PARTS if (out / p).exists()]
    if present and not ours:
        raise ValueError(
            f"{out}: already holds {', '.join(present)} but no {MARKER} marker; "
            "refusing to overwrite what the generator did not write (expected an empty folder)"
        )
    for part in OUTPUT_PARTS:
        target = out / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
