"""``up``: the product on its embedded default (scoring service, dashboard, worker) and one demo run."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.identity import demo_scientist
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.cli.runs import ROWS, SEED, demo
from pipeline_core.errors import ExitCode
from pipeline_core.vocabulary import Space

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

COMMANDS = Declarations()


@COMMANDS.command(
    "up",
    ROWS,
    SEED,
    arg("--exit-after-demo", action="store_true", help=argparse.SUPPRESS),
    help="scoring service + worker + one demo run; runs until Ctrl-C",
)
def up(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.cli.supervise import running_product

    try:
        with running_product(ctx, out) as product:
            code = demo(ctx, args, out)
            _print_scoring_example(ctx, product.scoring_url, args.seed, out)
            out.write(
                f"\ndashboard: {product.dashboard_url}  (sign in as a demo user above: demo_scientist, "
                "demo_validator, demo_validator_2, demo_manager or demo_admin)\n"
            )
            out.write("running; Ctrl-C stops the dashboard, the worker and the scoring service\n")
            out.flush()
            if not args.exit_after_demo:
                while not product.stop.wait(1.0):
                    pass
            return code
    except KeyboardInterrupt:  # Ctrl-C is how `up` is meant to end
        return ExitCode.OK


def _print_scoring_example(ctx: ServiceContext, scoring_url: str, seed: int, out: TextIO) -> None:
    """A key for the pre-prod deployment and a curl line scoring two generated applicants with it."""
    from pipeline_core.data.german_credit import generate_german_credit
    from pipeline_core.services import deployments
    from pipeline_core.services.datasets import builtin_spec

    actor = demo_scientist(ctx)
    dep = next((d for d in deployments.list_deployments(ctx, actor) if d.space == Space.PREPROD), None)
    if dep is None:
        return
    key = deployments.issue_key(ctx, actor, dep.id, label="printed by `up`")
    spec = builtin_spec("german_credit")
    sample = generate_german_credit(2, seed=seed)[spec.feature_names]
    example = ctx.settings.data_dir / "demo" / "score_example.json"
    values = json.loads(sample.to_json(orient="values"))
    example.write_text(json.dumps({"input_data": [{"fields": spec.feature_names, "values": values}]}))
    out.write(
        "\nscore the pre-prod deployment (the API key is shown once):\n"
        f"  curl -s -X POST {scoring_url}{dep.scoring_path} \\\n"
        f"    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d @{example}\n"
    )
