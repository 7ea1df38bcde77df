"""`cxloop init`: recognise a folder's exports by their format and propose a cxloop.yaml."""

from __future__ import annotations

from cxloop.init.project import InitResult, init_project

__all__ = ["InitResult", "init_project"]
