"""The generator's writers as independent parts, run one after another or in worker processes.

Once the world and its activity are simulated, the exports are independent of each other: each
writer draws from its own named random stream (`rng_for(seed, name)`) and writes its own files,
so the parts can run in any order, in any process, and give the same bytes. The ticket events
(about half of the writing) are split by page into `EVENT_SHARDS` parts.

The worker processes that run them in parallel are in cxloop/demo/workers.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cxloop.demo.activity import Activity
from cxloop.demo.qualtrics import write_qualtrics
from cxloop.demo.salesforce import write_salesforce
from cxloop.demo.truth import write_project_config, write_truth
from cxloop.demo.world import World
from cxloop.demo.zendesk import ZendeskIds, write_zendesk

EVENT_SHARDS = 2
# Largest first (measured at scale 1), so that two workers finish together.
PARTS = (
    *(f"zendesk.ticket_events.{i}" for i in range(EVENT_SHARDS)),
    "zendesk.tickets",
    "salesforce",
    "qualtrics",
    "zendesk.users",
    "zendesk.organizations",
    "zendesk.satisfaction_ratings",
)


@dataclass
class Simulated:
    """What every part reads: the world, its activity and the Zendesk ids."""

    world: World
    activity: Activity
    ids: ZendeskIds
    out: Path
    term_fields: bool


def write_part(sim: Simulated, part: str) -> dict[str, int]:
    """Write one part's files; returns its records per output entity."""
    world, activity, ids, out = sim.world, sim.activity, sim.ids, sim.out
    if part == "salesforce":
        return write_salesforce(world, out, sim.term_fields)
    if part == "qualtrics":  # with the truth, which needs the survey responses' ids
        ticket_ids = [t.zendesk_id for t in activity.tickets]
        counts, response_truth = write_qualtrics(world, activity, out, ticket_ids)
        counts |= write_truth(world, out, ids.user, ids.org, response_truth)
        write_project_config(out, sim.term_fields)
        return counts
    entity, _, shard = part.removeprefix("zendesk.").partition(".")
    if shard:
        return write_zendesk(world, activity, out, ids, (entity,), (int(shard), EVENT_SHARDS))
    return write_zendesk(world, activity, out, ids, (entity,))


def merge(results: dict[str, dict[str, int]]) -> dict[str, int]:
    """The parts' counts in the order the sequential generator reported them."""
    order = ("salesforce", "zendesk.", "qualtrics")
    counts: dict[str, int] = {}
    for prefix in order:
        for part in (p for p in sorted(results, key=_zendesk_order) if p.startswith(prefix)):
            for key, value in results[part].items():
                counts[key] = counts.get(key, 0) + value
    return counts


def _zendesk_order(part: str) -> tuple[int, str]:
    zendesk = ("tickets", "users", "organizations", "ticket_events", "satisfaction_ratings")
    entity = part.removeprefix("zendesk.").partition(".")[0]
    return (zendesk.index(entity) if entity in zendesk else -1, part)


def run_parts(sim: Simulated) -> dict[str, int]:
    """Every part, one after another in this process."""
    return merge({part: write_part(sim, part) for part in PARTS})
