"""Hand-written person records in the shape of int_person_records__unioned."""

from __future__ import annotations

import pandas as pd
import pytest
from identity_records import ACME_PHONE, frame, record


@pytest.fixture
def records() -> pd.DataFrame:
    """A small world: two CRM contacts sharing a switchboard, their helpdesk/survey twins."""
    acme = "001000000000001AAA"
    rows = [
        # Mohammed Al-Hassan, CRM
        record("salesforce", "003000000000001AAA", email_raw="mohammed.alhassan@acme.sa",
               phone_raw=ACME_PHONE, mobile_raw="+966502661076", first_name="Mohammed",
               last_name="Al-Hassan", account_hint=acme, account_phone=ACME_PHONE),
        # Khalid Haddad, CRM, same switchboard
        record("salesforce", "003000000000002AAA", email_raw="khalid.haddad@acme.sa",
               phone_raw=ACME_PHONE, first_name="Khalid", last_name="Haddad",
               account_hint=acme, account_phone=ACME_PHONE),
        # Mohammed in the helpdesk: other case/space e-mail, other spelling
        record("zendesk", "361000000001", email_raw=" Mohammed.Alhassan@Acme.sa ",
               phone_raw="011 584 0910", first_name="Muhammad", last_name="Alhassan",
               account_hint=acme, account_phone=ACME_PHONE),
        # Khalid in the helpdesk with a personal e-mail and the shared switchboard, local format
        record("zendesk", "361000000002", email_raw="khalidhaddad7@gmail.com",
               phone_raw="011 584 0910", first_name="Khaled", last_name="Hadad",
               account_hint=acme, account_phone=ACME_PHONE),
        # Mohammed's survey, in Arabic script, with his Contact Id
        record("qualtrics", "R_1", email_raw="MOHAMMED.ALHASSAN@ACME.SA", first_name="محمد",
               last_name="الحسن", explicit_contact_id="003000000000001"),
        # A CSAT response linked to Khalid's ticket only
        record("qualtrics", "R_2", email_raw="not an email", explicit_zendesk_user_id=361000000002),
        # No usable identifier at all
        record("qualtrics", "R_3", first_name="Sara"),
    ]  # fmt: skip
    return frame(rows)
