"""The suppression feed: SendGrid events that mean "never mail again" go to `ops.suppressions`.

`ops.suppressions` stays the one list the engine checks. Unsubscribes, group unsubscribes, spam
reports and permanent bounces (type `bounce`; a `blocked` bounce is temporary) are added once per
address and reason; a group unsubscribe undone by a later group resubscribe is removed again.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from cxloop.playbooks import ledger

SOURCE = "sendgrid_events"
EVENTS_VIEW = "staging.stg_sendgrid__events"


def sync_from_events(con: duckdb.DuckDBPyConnection, events: str = EVENTS_VIEW) -> dict[str, int]:
    """Bring ops.suppressions up to date with the events view; counts added and removed."""
    ledger.ensure_tables(con)
    if not ledger.table_exists(con, events):
        return {"added": 0, "removed": 0}
    latest_group = f"""
        select email, arg_max(event_type, event_at) as last_group_event
        from {events}
        where event_type in ('group_unsubscribe', 'group_resubscribe')
        group by email"""
    removed = con.execute(
        f"""delete from ops.suppressions
            where source = ? and reason = 'group_unsubscribe'
              and email in (select email from ({latest_group})
                            where last_group_event = 'group_resubscribe')
            returning email""",
        [SOURCE],
    ).fetchall()
    added = con.execute(
        f"""insert into ops.suppressions (email, reason, source, created_at)
            select e.email, e.event_type, ?, min(e.event_at)
            from {events} as e
            left join ({latest_group}) as g on g.email = e.email
            where e.is_suppressing and e.email is not null
              and not (e.event_type = 'group_unsubscribe'
                       and g.last_group_event = 'group_resubscribe')
              and not exists (
                  select 1 from ops.suppressions as s
                  where lower(trim(s.email)) = e.email and s.reason = e.event_type
              )
            group by e.email, e.event_type
            returning email""",
        [SOURCE],
    ).fetchall()
    return {"added": len(added), "removed": len(removed)}


def confirm_unknown_from_events(
    con: duckdb.DuckDBPyConnection, now: datetime, events: str = EVENTS_VIEW
) -> list[str]:
    """`unknown` e-mails that SendGrid reports any event for were sent: record them `sent`.

    Only a message SendGrid accepted can produce an event carrying our `cxloop_action_id`.
    """
    if not ledger.table_exists(con, events) or not ledger.table_exists(con, "ops.playbook_actions"):
        return []
    rows = con.execute(
        f"""update ops.playbook_actions as a
            set status = 'sent',
                provider_message_id = coalesce(a.provider_message_id, e.provider_message_id),
                sent_at = coalesce(a.sent_at, e.first_event_at),
                error = 'outcome was unknown; confirmed by SendGrid event ' || e.first_event,
                updated_at = ?
            from (
                select action_id, min(event_at) as first_event_at,
                       arg_min(event_type, event_at) as first_event,
                       arg_min(provider_message_id, event_at) as provider_message_id
                from {events}
                where action_id is not null
                group by action_id
            ) as e
            where a.action_id = e.action_id and a.status = 'unknown' and a.channel = 'email'
            returning a.action_id""",
        [now],
    ).fetchall()
    return sorted(r[0] for r in rows)
