"""Shared helpers for the demo generator: seeded randomness, ids, time formats, countries, files."""

from __future__ import annotations

import csv
import json
import os
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import phonenumbers

DAY = 86_400
HOUR = 3_600
SF_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BAD_DATES = ("31/02/2025", "not a date", "2025-13-01")


def rng_for(seed: int, part: str) -> np.random.Generator:
    """An independent generator per part, so changing one part never shifts another."""
    return np.random.default_rng([seed, zlib.crc32(part.encode())])


def epoch(d: date) -> int:
    """Midnight UTC of a date as epoch seconds."""
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def add_months(d: date, months: int) -> date:
    """The same day `months` later (clamped to the month's last day)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(d)


def iso_z(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds -> `2025-03-27T22:52:16Z` (Zendesk)."""
    s = np.datetime_as_string(np.asarray(ts, dtype="int64").astype("datetime64[s]"), unit="s")
    return np.char.add(s, "Z")


def iso_ms_z(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds -> `2025-03-27T22:52:16.000Z` (Salesforce Bulk CSV)."""
    s = np.datetime_as_string(np.asarray(ts, dtype="int64").astype("datetime64[s]"), unit="ms")
    return np.char.add(s, "Z")


def ymd(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds -> `YYYY-MM-DD`."""
    return np.datetime_as_string(np.asarray(ts, dtype="int64").astype("datetime64[D]"), unit="D")


def sf_checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character Salesforce id."""
    out = []
    for i in range(3):
        chunk = id15[i * 5 : i * 5 + 5]
        n = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        out.append(SF_CHECKSUM_ALPHABET[n])
    return "".join(out)


def sf_ids(prefix: str, n: int, rng: np.random.Generator) -> list[str]:
    """`n` distinct 18-character Salesforce ids with the given key prefix."""
    space = 62**6
    start = int(rng.integers(0, space))
    stride = 1_000_003  # prime, coprime with 62**6: i -> start + i*stride never repeats
    pod = BASE62[10 + int(rng.integers(0, 26))] + BASE62[36 + int(rng.integers(0, 26))]
    ids = []
    for i in range(n):
        v = (start + i * stride) % space
        digits = []
        for _ in range(6):
            v, r = divmod(v, 62)
            digits.append(BASE62[r])
        id15 = prefix + pod + "0000" + "".join(reversed(digits))
        ids.append(id15 + sf_checksum(id15))
    return ids


def random_tokens(rng: np.random.Generator, n: int, length: int) -> list[str]:
    """`n` distinct random alphanumeric tokens (for Qualtrics ResponseIds and the like)."""
    alphabet = np.array(list(BASE62))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        draw = alphabet[rng.integers(0, 62, size=(n - len(out), length))]
        for row in draw:
            tok = "".join(row)
            if tok not in seen:
                seen.add(tok)
                out.append(tok)
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


# Country -> (region, calling code, TLD, Zendesk time zone display name, IANA zone, locale,
#             landline national-number prefixes, mobile prefixes, lat, lon)
COUNTRIES: dict[str, dict] = {
    "US": dict(
        name="United States",
        region="NA",
        cc="1",
        tld="com",
        zd_tz="Eastern Time (US & Canada)",
        iana="America/New_York",
        locale="en-US",
        land=("212", "312", "415", "617"),
        mobile=("646", "917", "310"),
        lat=40.71,
        lon=-74.0,
    ),
    "CA": dict(
        name="Canada",
        region="NA",
        cc="1",
        tld="ca",
        zd_tz="Eastern Time (US & Canada)",
        iana="America/New_York",
        locale="en-US",
        land=("416", "613"),
        mobile=("647", "437"),
        lat=43.65,
        lon=-79.38,
    ),
    "GB": dict(
        name="United Kingdom",
        region="EMEA",
        cc="44",
        tld="co.uk",
        zd_tz="London",
        iana="Europe/London",
        locale="en-GB",
        land=("207", "208"),
        mobile=("7400", "7812"),
        lat=51.5,
        lon=-0.12,
    ),
    "DE": dict(
        name="Germany",
        region="EMEA",
        cc="49",
        tld="de",
        zd_tz="Berlin",
        iana="Europe/Berlin",
        locale="de",
        land=("30", "89"),
        mobile=("151", "160", "170"),
        lat=52.52,
        lon=13.4,
    ),
    "AE": dict(
        name="United Arab Emirates",
        region="MENA",
        cc="971",
        tld="ae",
        zd_tz="Abu Dhabi",
        iana="Asia/Dubai",
        locale="en-US",
        land=("4", "2"),
        mobile=("50", "55", "56"),
        lat=25.2,
        lon=55.27,
    ),
    "SA": dict(
        name="Saudi Arabia",
        region="MENA",
        cc="966",
        tld="sa",
        zd_tz="Riyadh",
        iana="Asia/Riyadh",
        locale="en-US",
        land=("11", "12"),
        mobile=("50", "55", "56"),
        lat=24.71,
        lon=46.68,
    ),
    "AU": dict(
        name="Australia",
        region="APAC",
        cc="61",
        tld="com.au",
        zd_tz="Sydney",
        iana="Australia/Sydney",
        locale="en-AU",
        land=("2", "3"),
        mobile=("412", "423"),
        lat=-33.87,
        lon=151.2,
    ),
    "SG": dict(
        name="Singapore",
        region="APAC",
        cc="65",
        tld="sg",
        zd_tz="Singapore",
        iana="Asia/Singapore",
        locale="en-US",
        land=("6",),
        mobile=("8", "9"),
        lat=1.35,
        lon=103.82,
    ),
    "MX": dict(
        name="Mexico",
        region="LATAM",
        cc="52",
        tld="mx",
        zd_tz="Mexico City",
        iana="America/Mexico_City",
        locale="es",
        land=("55", "33"),
        mobile=("55", "81"),
        lat=19.43,
        lon=-99.13,
    ),
    "BR": dict(
        name="Brazil",
        region="LATAM",
        cc="55",
        tld="com.br",
        zd_tz="Brasilia",
        iana="America/Sao_Paulo",
        locale="pt-BR",
        land=("113", "213"),
        mobile=("119", "219"),
        lat=-23.55,
        lon=-46.63,
    ),
}
NSN_LENGTH = {
    "US": 10,
    "CA": 10,
    "GB": 10,
    "DE": 10,
    "AE": 9,
    "SA": 9,
    "AU": 9,
    "SG": 8,
    "MX": 10,
    "BR": 11,
}
LANDLINE_LENGTH = {"AE": 8, "BR": 10}
REGION_COUNTRIES = {
    "NA": ("US", "US", "US", "CA"),
    "EMEA": ("GB", "DE"),
    "MENA": ("AE", "SA"),
    "APAC": ("AU", "SG"),
    "LATAM": ("MX", "BR"),
}


_VALID_LEADS: dict[tuple[str, str, int], bool] = {}  # validity depends on the leading digits


def phone_nsn(country: str, mobile: bool, rng: np.random.Generator) -> str:
    """A random national significant number that libphonenumber accepts as valid."""
    c = COUNTRIES[country]
    prefixes = c["mobile"] if mobile else c["land"]
    length = NSN_LENGTH[country] if mobile else LANDLINE_LENGTH.get(country, NSN_LENGTH[country])
    for _ in range(50):
        prefix = prefixes[int(rng.integers(0, len(prefixes)))]
        digits = rng.integers(0, 10, size=length - len(prefix))
        digits[0] = 2 + digits[0] % 8
        nsn = prefix + "".join(map(str, digits))
        key = (country, nsn[: len(prefix) + 2], length)
        if key not in _VALID_LEADS:
            _VALID_LEADS[key] = phonenumbers.is_valid_number(
                phonenumbers.parse("+" + c["cc"] + nsn)
            )
        if _VALID_LEADS[key]:
            return nsn
    raise RuntimeError(f"no valid {country} number drawn; check the prefixes")


def e164(country: str, nsn: str) -> str:
    """E.164 form: +<cc><nsn>."""
    return "+" + COUNTRIES[country]["cc"] + nsn


def national(country: str, nsn: str, compact: bool = False) -> str:
    """The number as people in that country write it (trunk prefix, grouping)."""
    n = nsn
    if country in ("US", "CA"):
        return f"({n[:3]}) {n[3:6]}-{n[6:]}"
    if country == "BR":
        return f"({n[:2]}) {n[2:-4]}-{n[-4:]}"
    if country in ("SG",):
        return f"{n[:4]} {n[4:]}"
    if country == "MX":
        return f"{n[:2]} {n[2:6]} {n[6:]}"
    if compact:
        return "0" + n
    if country in ("AE", "SA"):
        head = 2 if n[0] == "5" or country == "SA" else 1
        return f"0{n[:head]} {n[head : head + 3]} {n[head + 3 :]}"
    if country == "GB":
        return f"0{n[:2]} {n[2:6]} {n[6:]}" if n[0] == "2" else f"0{n[:4]} {n[4:]}"
    if country == "AU":
        return f"(0{n[0]}) {n[1:5]} {n[5:]}" if n[0] != "4" else f"0{n[:3]} {n[3:6]} {n[6:]}"
    return f"0{n[:3]} {n[3:]}" if n[0] == "1" else f"0{n[:2]} {n[2:]}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name, then rename, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, doc: object) -> None:
    """One compact JSON document, UTF-8, as an API returns it."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    atomic_write_bytes(path, text.encode("utf-8"))


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> None:
        self.parts.append(s)


def csv_text(rows: Iterable[Sequence[str]], *, quote_all: bool, lineterminator: str) -> str:
    """Rows as CSV text (Salesforce quotes every value; Qualtrics only where needed)."""
    buf = _Buffer()
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    csv.writer(buf, quoting=quoting, lineterminator=lineterminator).writerows(rows)
    return "".join(buf.parts)


def pick_bad_rows(rng: np.random.Generator, n_rows: int, rate: float = 0.01) -> np.ndarray:
    """Sorted positions of the ~1% of rows to corrupt (at least one when there are rows)."""
    if n_rows == 0:
        return np.array([], dtype=int)
    k = max(1, int(round(n_rows * rate)))
    return np.sort(rng.choice(n_rows, size=min(k, n_rows), replace=False))
