"""``run --spec FILE``: a spec whose adversarial threat model is wrong exits 2 naming the field, and queues nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline_core.cli import main
from pipeline_core.data.german_credit import german_credit_spec
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Run


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"mutable": ["LoanAmount", "Sex"]}, "adversarial.mutable names protected attribute 'Sex'"),
        ({"mutable": ["Shoe size"]}, "adversarial.mutable feature 'Shoe size' is not in the spec"),
        ({"tolerance": 7}, "adversarial.tolerance = 7 is not a number in [0, 1]"),
    ],
    ids=["protected", "unknown", "tolerance"],
)
def test_a_spec_file_with_a_bad_threat_model_exits_2_naming_the_field(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, Any],
    said: str,
) -> None:
    data = german_credit_spec().to_dict()
    data["expectations"]["adversarial"] |= change
    spec = tmp_path / "credit.json"
    spec.write_text(json.dumps(data), encoding="utf-8")
    assert main(["--user", "dora", "run", "--data", str(tmp_path / "credit.csv"), "--spec", str(spec)]) == 2
    captured = capsys.readouterr()
    assert said in captured.err and "expectations: " in captured.err, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    with cli_store.db.read() as session:
        assert session.execute(select(func.count()).select_from(Run)).scalar_one() == 0
