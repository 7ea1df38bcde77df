"""Demo data generator: realistic Salesforce, Zendesk and Qualtrics exports with a known truth.

Entry point: `cxloop.demo.generator.generate`.
"""
