"""Erasure of one person: `cxloop erase --email ADDRESS | --customer-id ID` (docs/erasure.md).

`identifiers` (salted hashes, the row test), `subject` (who the person is), `store` (the
warehouse), `files` (lake, outbox, snapshot versions, pulled files, everything else under
CXLOOP_HOME), `tombstones` (what ingest drops later) and `run` (the steps the `erase` flow runs).
"""
