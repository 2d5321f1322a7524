"""Applicants and holders: people with valid resident IDs, companies and social organisations with valid USCCs.

Everything is drawn from a ``random.Random`` that belongs to one record, so a record's people are a pure
function of (seed, index).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from functools import lru_cache

from .identifiers import USCC_ALPHABET, make_ric, make_uscc
from .prng import between, pick
from .vocab import (
    BANKS,
    COMPANY_TRADES,
    COMPANY_WORDS,
    GIVEN_FEMALE,
    GIVEN_MALE,
    ID_DIVISIONS,
    JINAN_DISTRICTS,
    MOBILE_PREFIXES,
    OLD_ID_DIVISIONS,
    RARE_GIVEN,
    RARE_SURNAMES,
    ROADS,
    SOCIAL_ORG_WORDS,
    SURNAMES,
)

__all__ = ["Party", "person", "company", "social_org", "bank", "address", "person_name", "mobile"]

_ORG_CHARS = USCC_ALPHABET[:10] * 3 + USCC_ALPHABET[10:]


@dataclass(frozen=True)
class Party:
    """One applicant or holder in neutral terms; ``kind`` is DOMAIN's 1–7, ``cert_type`` GB/T 36903."""

    name: str
    kind: str
    cert_type: str
    cert_no: str
    mobile: str
    address: str


def person_name(rng: random.Random) -> tuple[str, bool]:
    """A Chinese name and whether it is a man's; a rare surname or character now and then."""
    male = rng.random() < 0.5
    r = rng.random()
    surname = pick(rng, RARE_SURNAMES) if r < 0.012 else SURNAMES[int(rng.random() * len(SURNAMES))]
    r = rng.random()
    if r < 0.006:
        given = pick(rng, RARE_GIVEN)
    else:
        given = pick(rng, GIVEN_MALE if male else GIVEN_FEMALE)
    return surname + given, male


def mobile(rng: random.Random) -> str:
    return pick(rng, MOBILE_PREFIXES) + f"{int(rng.random() * 100_000_000):08d}"


def address(rng: random.Random) -> str:
    _, district = pick(rng, JINAN_DISTRICTS)
    return f"山东省济南市{district}{pick(rng, ROADS)}{between(rng, 1, 399)}号"


def _birth(rng: random.Random, at_sec: int) -> str:
    year = time.gmtime(at_sec).tm_year - between(rng, 20, 78)
    return f"{year:04d}{between(rng, 1, 12):02d}{between(rng, 1, 28):02d}"


def person(rng: random.Random, at_sec: int) -> Party:
    """A natural person (type 1); mostly a resident ID, sometimes an old birthplace code or a travel permit."""
    name, male = person_name(rng)
    r = rng.random()
    if r < 0.93:
        division = pick(rng, OLD_ID_DIVISIONS) if rng.random() < 0.03 else pick(rng, ID_DIVISIONS)
        seq = int(rng.random() * 500) * 2 + (1 if male else 0)
        cert_type, cert_no = "111", make_ric(division, _birth(rng, at_sec), seq)
    elif r < 0.96:
        cert_type, cert_no = "516", "C" + f"{int(rng.random() * 10**8):08d}"
    elif r < 0.98:
        cert_type, cert_no = "414", "E" + f"{int(rng.random() * 10**8):08d}"
    else:
        cert_type, cert_no = "511", f"{int(rng.random() * 10**8):08d}"
    return Party(name, "1", cert_type, cert_no, mobile(rng), address(rng))


def _org8(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "MA" + "".join(pick(rng, _ORG_CHARS) for _ in range(6))
    return f"{int(rng.random() * 10**8):08d}"


@lru_cache(maxsize=None)
def _org_identity(name: str, authority: str, kind: str) -> tuple[str, str]:
    """An organisation keeps one USCC and one address across all its cases, as in real life."""
    rng = random.Random(name)
    division, _ = pick(rng, JINAN_DISTRICTS)
    return make_uscc(authority, kind, division if authority == "9" else "370000", _org8(rng)), address(rng)


def company(rng: random.Random) -> Party:
    """An enterprise legal person (type 2) with a 91… USCC registered in a Jinan district."""
    name = f"济南{pick(rng, COMPANY_WORDS)}{pick(rng, COMPANY_TRADES)}"
    code, addr = _org_identity(name, "9", "1")
    return Party(name, "2", "001", code, mobile(rng), addr)


def social_org(rng: random.Random) -> Party:
    """A social organisation legal person (type 4): 51 social group, 52 private non-enterprise, 53 foundation."""
    name = pick(rng, SOCIAL_ORG_WORDS)
    kind = "3" if "基金会" in name else "2" if "中心" in name else "1"
    code, addr = _org_identity(name, "5", kind)
    return Party(name, "4", "001", code, mobile(rng), addr)


@lru_cache(maxsize=None)
def _bank_code(division: str, org8: str) -> str:
    return make_uscc("9", "1", division, org8)


def bank(rng: random.Random) -> Party:
    """A lender (the mortgagee in 抵押 cases)."""
    name, division, org8 = pick(rng, BANKS)
    return Party(name, "2", "001", _bank_code(division, org8), "0531-8" + f"{int(rng.random() * 10**7):07d}",
                 address(rng))
