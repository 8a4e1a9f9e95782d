"""README states the registry's claim count, one number (issue #14 C.13)."""
from __future__ import annotations

import re
from pathlib import Path

from replication.claims.verdicts import load_claims

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_states_one_claim_count_and_it_is_the_registrys():
    counts = {int(n) for n in re.findall(r"\b(\d{2,}) claims\b", README.read_text())}
    assert counts == {len(load_claims())}, counts
