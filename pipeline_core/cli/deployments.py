"""Commands on deployments: deployments list, deploy, keys issue|list|revoke, score, rollback, serve."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.inputs import load_spec
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import (
    AuthError,
    DataError,
    DeploymentError,
    ExitCode,
    NotFoundError,
    PermissionDenied,
    PipelineError,
    ScoringInputError,
)
from pipeline_core.vocabulary import Space

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.deployments import DeploymentInfo

COMMANDS = Declarations()
DEPLOYMENT = arg("--deployment", type=int, required=True)


def write_deployment(info: DeploymentInfo, base_url: str, out: TextIO) -> None:
    out.write(
        f"{info.id:>4}  {info.space:<8} {info.name:<28} {info.model_name} v{info.model_version} "
        f"(model version {info.model_version_id})  {base_url.rstrip('/')}{info.scoring_path}\n"
    )


@COMMANDS.command("deployments", arg("deployments_command", choices=("list",)), help="list deployments")
def deployments_list(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    actor = login(ctx, args)
    for info in deployments.list_deployments(ctx, actor):
        write_deployment(info, ctx.settings.scoring_url, out)
    return ExitCode.OK


@COMMANDS.command(
    "deploy",
    arg("model_version", type=int),
    arg("--space", required=True, choices=[s.value for s in Space]),
    help="deploy a model version to dev or preprod (prod: after approval)",
)
def deploy(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments, governance

    actor = login(ctx, args)
    if args.space == Space.PROD:
        info = governance.deploy_approved(ctx, actor, args.model_version)
        write_deployment(info, ctx.settings.scoring_url, out)
        return ExitCode.OK
    result = deployments.deploy(ctx, actor, args.model_version, space=args.space)
    write_deployment(result.deployment, ctx.settings.scoring_url, out)
    if result.api_key:
        out.write(f"API key (shown once): {result.api_key}\n")
    return ExitCode.OK


KEYS = COMMANDS.group("keys", help="issue, list or revoke a deployment's API keys")


@KEYS.command("issue", DEPLOYMENT, arg("--label", default="issued from the CLI"), help="issue an API key")
def keys_issue(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    key = deployments.issue_key(ctx, login(ctx, args), args.deployment, label=args.label)
    out.write(f"API key for deployment {args.deployment} (shown once): {key}\n")
    return ExitCode.OK


@KEYS.command("list", DEPLOYMENT, help="a deployment's API keys (never the keys themselves), revoked ones too")
def keys_list(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    found = deployments.list_keys(ctx, login(ctx, args), args.deployment)
    if not found:
        out.write(f"deployment {args.deployment} has no API keys\n")
    for k in found:
        state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M:%S} by {k.revoked_by or '?'}"
        out.write(
            f"key {k.id:>4}  {(k.prefix or '(no prefix)') + '...':<14} {state:<40} issued "
            f"{k.created_at:%Y-%m-%d %H:%M:%S} by {k.created_by}: {k.label}\n"
        )
    return ExitCode.OK


@KEYS.command("revoke", arg("key_id", type=int, help="the key's id, from 'keys list'"), help="revoke an API key")
def keys_revoke(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    revoked = deployments.revoke_key(ctx, login(ctx, args), key_id=args.key_id)
    out.write(f"API key {revoked.id} of deployment {revoked.deployment_id} revoked\n")
    return ExitCode.OK


def scoring_refusal(status: int, url: str) -> PipelineError:
    """The error a scoring service's non-200 answer stands for, so that it exits as the table says."""
    message = f"the scoring service at {url} answered {status}"
    if status == 401:
        return AuthError(f"{message}: the API key (MLOPS_API_KEY) is missing, unknown or revoked")
    if status == 403:
        return PermissionDenied(f"{message}: the API key is not a key of this deployment")
    if status == 404:
        return NotFoundError(f"{message}: no such deployment")
    if 400 <= status < 500:
        return ScoringInputError(f"{message}: the records cannot be scored", status=status)
    return DeploymentError(message)


@COMMANDS.command(
    "score",
    DEPLOYMENT,
    arg("--data", required=True),
    arg("--spec", default="german_credit"),
    help="score a CSV through the scoring service (key in MLOPS_API_KEY)",
)
def score(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    import httpx

    from pipeline_core.services import deployments, monitoring
    from pipeline_core.services.datasets import builtin_spec

    key = ctx.settings.api_key
    if not key:
        raise AuthError("set MLOPS_API_KEY to the deployment's API key")
    try:
        content = Path(args.data).read_bytes()
    except OSError as exc:
        raise DataError(f"data file {args.data!r} cannot be read: {exc.strerror}") from exc
    frame = monitoring.parse_feedback(content, name=args.data)
    spec = builtin_spec(args.spec) if not args.spec.endswith(".json") else load_spec(args.spec)
    missing = [f for f in spec.feature_names if f not in frame.columns]
    if missing:
        raise DataError(f"{args.data}: no column(s) {missing}")
    values = json.loads(frame[spec.feature_names].to_json(orient="values"))
    url = f"{ctx.settings.scoring_url.rstrip('/')}{deployments.scoring_path(args.deployment)}"
    try:
        response = httpx.post(
            url,
            json={"input_data": [{"fields": spec.feature_names, "values": values}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise DeploymentError(f"scoring service at {url} did not answer: {exc}") from exc
    if response.status_code != 200:
        out.write(response.text + "\n")  # the service's own errors, each naming the field and record
        raise scoring_refusal(response.status_code, url)
    body = response.json()
    for sid, (label, proba) in zip(body["scoring_ids"], body["predictions"][0]["values"], strict=True):
        out.write(f"{sid}  {label:<10} {json.dumps([round(p, 4) for p in proba])}\n")
    for warning in body.get("warnings", []):
        out.write(f"warning: record {warning['record']}: {warning['field']}={warning['value']!r} {warning['issue']}\n")
    return ExitCode.OK


@COMMANDS.command(
    "rollback",
    arg("--deployment", type=int, default=None),
    arg("--model", default=None, help="model name, when there are several prod deployments"),
    arg("--reason", required=True, help="why, in at least a sentence (kept on the revision and audited)"),
    help="serve the previous approved model version in prod",
)
def rollback(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    result = deployments.rollback(
        ctx, login(ctx, args), reason=args.reason, deployment_id=args.deployment, model_name=args.model
    )
    out.write("rolled back: ")
    write_deployment(result.deployment, ctx.settings.scoring_url, out)
    return ExitCode.OK


@COMMANDS.command(
    "serve",
    arg("--host", default=None),
    arg("--port", type=int, default=None),
    help="run the scoring service (WML v4 predictions API)",
)
def serve(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.serving.server import serve_forever

    host, port = args.host or ctx.settings.serve_host, args.port or ctx.settings.serve_port
    out.write(f"scoring service on http://{host}:{port} (OpenAPI docs at /docs); Ctrl-C stops it\n")
    out.flush()
    serve_forever(ctx, host=host, port=port)
    return ExitCode.OK
