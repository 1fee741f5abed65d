"""One list to label: the evaluation, its retraining request, ``evaluate`` and ``retrain`` give the same numbers."""

from __future__ import annotations

import io

from pipeline_core.cli import main
from pipeline_core.monitors.drift import DriftConfig
from pipeline_core.monitors.suite import SuiteConfig
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.services.helpers import evaluate_drifted_traffic
from tests.states import State


def _lines_to_label(output: str) -> list[str]:
    """The sentence about the records to label (the line ending "to label"), then the records listed under it."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(" to label"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def test_the_evaluation_the_request_and_the_cli_count_the_same_records(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    ctx, dep_id = cli_store, starting_state.deployment_id
    assert dep_id is not None
    config = SuiteConfig(drift=DriftConfig(max_drifted_records=2))
    evaluation_id = evaluate_drifted_traffic(ctx, people["vera"], dep_id, config=config)
    report = monitoring.get_evaluation(ctx, people["max"], evaluation_id).report
    to_label = report.to_label
    # The list's counts are the evaluation's own: the detector's estimate, the consistency check's records.
    drop, consistency = report.accuracy_drop, report.data_consistency
    assert drop is not None and consistency is not None
    assert to_label.likely_mispredicted == drop.likely_mispredicted
    assert (drop.likely_mispredicted or 0) > to_label.listed_likely == len(drop.records) == 2
    assert to_label.inconsistent == consistency.records > 20
    assert to_label.listed_inconsistent == min(20, to_label.inconsistent - to_label.inconsistent_already_listed)
    assert to_label.total == to_label.listed_likely + to_label.listed_inconsistent == len(report.drifted_records)
    # The detector lists at most 2 here (its limit lowered), so the sentence must say why the list is shorter.
    others = to_label.inconsistent - to_label.inconsistent_already_listed
    sentence = to_label.describe()
    assert sentence == (
        f"{to_label.likely_mispredicted} records estimated likely mispredicted; the 2 most likely are listed, plus "
        f"the first 20 of the {others} that break a learned constraint: 22 to label"
    )
    (request,) = monitoring.list_retraining_requests(ctx, people["max"], status="open")
    assert request.evaluation_id == evaluation_id
    assert request.to_label == to_label and request.drifted_records == to_label.records
    assert monitoring.retraining_request(ctx, people["max"], request.id) == request

    # evaluate again from the CLI: a new evaluation, its own list, in the same words.
    out = io.StringIO()
    assert main(["--user", "vera", "evaluate", "--deployment", str(dep_id)], out) == 1
    again = monitoring.list_evaluations(ctx, people["max"], deployment_id=dep_id, limit=1)[0].report.to_label
    evaluated = _lines_to_label(out.getvalue())
    assert evaluated[0] == again.describe()
    assert len(evaluated) == 1 + 20 + 1 and evaluated[-1] == f"  … the first 20 of {again.total} shown"

    # retrain the first request: the request's list (its evaluation's), in the words the evaluation used.
    retrained = io.StringIO()
    assert main(["--user", "dora", "retrain", "--request", str(request.id)], retrained) == 0
    shown = _lines_to_label(retrained.getvalue())
    assert shown[0] == sentence
    first = [f"  {r.scoring_id or f'record {r.record}'}: {r.why}" for r in to_label.records[:20]]
    assert shown[1:21] == first


def test_a_request_whose_evaluation_predates_the_list_rebuilds_it(
    ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    from pipeline_core.results.evaluation import EvaluationReport
    from pipeline_core.store.models import Evaluation

    dep_id = starting_state.deployment_id
    assert dep_id is not None
    evaluation_id = evaluate_drifted_traffic(ctx, people["vera"], dep_id)
    with ctx.db.write() as session:  # as an earlier version stored it: no "to_label" in the drift details
        row = session.get(Evaluation, evaluation_id)
        assert row is not None
        document = dict(row.results)
        drift = dict(document["monitors"]["drift"])
        drift["details"] = {k: v for k, v in drift["details"].items() if k != "to_label"}
        document["monitors"] = {**document["monitors"], "drift": drift}
        row.results = document
    (request,) = monitoring.list_retraining_requests(ctx, people["max"], status="open")
    rebuilt = EvaluationReport.from_dict(document).to_label
    assert request.to_label == rebuilt and request.drifted_records == rebuilt.records
    assert rebuilt.likely_mispredicted is not None and rebuilt.describe().endswith(f"{rebuilt.total} to label")
