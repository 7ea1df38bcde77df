"""API connectors: pull what changed since a cursor into a source's folder, page by page.

`run.pull_source` drives one source; `registry.CONNECTORS` maps kinds to connectors;
`http.ApiClient` is the one HTTP layer; `store.PullStore` writes pages, manifest and cursors.
docs/connectors.md.
"""
