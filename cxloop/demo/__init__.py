"""Demo data generator: realistic Salesforce, Zendesk and Qualtrics exports with a known truth."""

from cxloop.demo.generator import generate

__all__ = ["generate"]
