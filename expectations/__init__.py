"""Great Expectations suites for cxloop's datasets, written in code, and the runner.

One module per dataset family (`raw_salesforce`, `raw_zendesk`, `raw_qualtrics`, `marts`);
`registry` maps dataset names to suites; `runner.validate` checks a pandas frame. This package
never imports `flows`: the check flow reads the warehouse and calls it. Importing it is cheap;
GE itself is imported with `registry` or `runner`.
"""
