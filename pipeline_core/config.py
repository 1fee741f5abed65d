"""``Settings``: the only module that reads the environment or ``mlops.toml``.

Precedence: environment variables (``MLOPS_*``) over ``mlops.toml`` (or the file named by
``MLOPS_CONFIG``) over defaults. Relative paths are resolved against the working folder.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipeline_core.errors import ConfigError
from pipeline_core.logs import DEFAULT_LEVEL, LEVELS
from pipeline_core.policy import DEFAULT_POLICIES, TierPolicy
from pipeline_core.vocabulary import Tier

ENV_PREFIX = "MLOPS_"
# Settings that are secrets: environment only, never a file, never shown (repr=False).
SECRETS = frozenset(
    {
        "password",
        "demo_password",
        "api_key",
        "new_password",
        "s3_access_key_id",
        "s3_secret_access_key",
        "cos_api_key",
        "ibm_api_key",
        "audit_key",
        # Alert channels: the SMTP account's password, the webhook's address (Slack's and Teams' carry their
        # token in it) and the key its body is signed with.
        "alert_smtp_password",
        "alert_webhook_url",
        "alert_webhook_secret",
    }
)
# Where secrets may also be kept, git-ignored, beside Streamlit's own: a ``[mlops]`` table of secret settings.
SECRETS_FILE = Path(".streamlit") / "secrets.toml"
SECRETS_TABLE = "mlops"
WEBHOOK_FORMATS = ("json", "slack", "teams")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the product keeps its state and how its workers behave."""

    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file in data_dir
    artifact_backend: str = "local"  # "local" folder, or "s3" (any S3 protocol store, IBM COS included)
    artifact_dir: Path = Path("")  # empty: data_dir / "artifacts"
    # S3 / IBM Cloud Object Storage: bucket, endpoint and key prefix; credentials are secrets (below).
    s3_bucket: str = ""
    s3_endpoint: str = ""  # e.g. https://s3.eu-de.cloud-object-storage.appdomain.cloud
    s3_prefix: str = "artifacts/"
    s3_region: str = "us-east-1"
    cos_auth_endpoint: str = "https://iam.cloud.ibm.com/identity/token"
    cos_instance_id: str = ""  # the COS service instance's CRN, with cos_api_key (IAM)
    # Where models are served and monitored: "local" (this package) or "ibm" (watsonx.ai / OpenScale).
    deployment_backend: str = "local"
    monitor_backend: str = "local"
    # IBM Cloud Pak for Data (url + ibm_username + the secret ibm_api_key) or IBM Cloud (url + IAM ibm_api_key).
    ibm_url: str = ""  # e.g. https://cpd-cpd.apps.example.com, or https://us-south.ml.cloud.ibm.com
    ibm_username: str = ""  # Cloud Pak for Data user; empty: IBM Cloud IAM
    ibm_version: str = "5.1"  # Cloud Pak for Data release
    ibm_ca_bundle: str = ""  # PEM file of the cluster's CA; empty: the system's trust store
    ibm_space_preprod: str = ""  # watsonx.ai deployment space ids, one per space we deploy to
    ibm_space_prod: str = ""
    ibm_space_dev: str = ""
    ibm_software_spec: str = "runtime-25.1-py3.12"  # ships scikit-learn 1.6, the version models are trained with
    ibm_model_type: str = "scikit-learn_1.6"
    openscale_url: str = ""  # empty: ibm_url (Cloud Pak for Data); IBM Cloud: https://api.aiopenscale.cloud.ibm.com
    openscale_instance_id: str = ""  # empty: Cloud Pak for Data's default instance
    openscale_data_mart_id: str = ""  # empty: the instance's data mart
    # AI Factsheets: "local" (facts in the metadata store) or "ibm" (also tracked in an AI use case).
    factsheet_backend: str = "local"
    factsheets_usecase_id: str = ""
    factsheets_catalog_id: str = ""  # the inventory (catalog) holding the AI use case
    factsheets_approach_id: str = ""  # empty: the use case's first approach
    heartbeat_interval: float = 2.0
    heartbeat_timeout: float = 30.0
    poll_interval: float = 1.0
    # Scoring service: where it listens, where the pipeline's smoke test calls it, its limits.
    serve_host: str = "127.0.0.1"
    serve_port: int = 8008
    scoring_url: str = ""  # empty: http://<serve_host>:<serve_port>
    max_scoring_rows: int = 10_000
    serving_refresh_interval: float = 0.5
    # What one scoring request may hold, checked before anything is parsed or scored (with max_scoring_rows
    # above): a bigger body is a 413 (unread when its Content-Length says so), the rest a 400 naming the value.
    # The defaults fit 10,000 records of a 20-feature spec with room to spare.
    max_request_bytes: int = 8 * 1024 * 1024
    max_scoring_fields: int = 1_000  # names in input_data[0].fields
    max_string_chars: int = 1_000  # any string in the body: a category, a field name, a key
    max_json_depth: int = 32  # nesting of arrays and objects; a WML payload needs 5
    max_number_digits: int = 20  # digits of an integer literal, counted before int() converts it
    max_number_magnitude: float = 1e15  # |number|; float64 holds every integer up to 2**53 (9.0e15) exactly
    # The dashboard `up` starts (Streamlit), on serve_host.
    dashboard_port: int = 8501
    payload_logging: bool = True
    # Payload durability: a scored request is in the service's write-ahead log (data_dir/payload/wal),
    # synced, before its answer is sent; at most payload_queue_max_records records wait in memory for
    # the store, and a request beyond that is answered 503 with Retry-After: payload_retry_after seconds.
    payload_wal: bool = True  # off: answered from memory alone, so a killed process loses what waited
    payload_wal_sync: bool = True  # fdatasync each group commit; off: survives a killed process, not a power cut
    # With sync on: how often the log is synced in the background (answers wait only for the write, which
    # a killed process cannot lose; the machine going down loses at most this much). 0: each answer waits.
    payload_wal_sync_interval: float = 0.01
    payload_wal_segment_bytes: int = 4 << 20  # a segment is deleted once all its records are stored
    payload_queue_max_records: int = 200_000
    payload_retry_after: int = 1
    # Shadow scoring (serving.shadow): at most this many production records wait for the shadow model;
    # beyond that a request is dropped for the shadow (counted), never waited for.
    shadow_queue_max_records: int = 50_000
    # Production evaluations the worker runs: every interval seconds (0: never), over at most this many records.
    evaluation_interval: float = 3600.0
    evaluation_max_records: int = 1_000_000
    # A worker's claim on a due evaluation that has not finished after this many seconds (the worker died)
    # may be taken over by another worker.
    evaluation_claim_timeout: float = 900.0
    # Log lines on stderr from this level up (debug, info, warning, error); the CLI's --log-level overrides it.
    log_level: str = DEFAULT_LEVEL
    # Training data by path (`run --data`, the Runs page) is read only from inside these folders (symlinks
    # followed): a data scientist must not read the server's other files. Empty: data_dir / "datasets".
    # Environment: MLOPS_DATA_ROOTS, folders separated by os.pathsep (":"); mlops.toml: a list.
    data_roots: tuple[Path, ...] = ()
    # CLI identity; the password only ever comes from the environment or a prompt.
    user: str = ""
    password: str = field(default="", repr=False)
    demo_password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)  # for the CLI's `score`
    new_password: str = field(default="", repr=False)  # for `users add` / `users passwd` in scripts
    # S3 credentials: an HMAC key pair, or an IBM Cloud IAM API key (with cos_instance_id).
    s3_access_key_id: str = field(default="", repr=False)
    s3_secret_access_key: str = field(default="", repr=False)
    cos_api_key: str = field(default="", repr=False)
    ibm_api_key: str = field(default="", repr=False)  # Cloud Pak for Data user's API key, or an IBM Cloud IAM key
    # The audit chain's HMAC key, never in the database. Empty: the embedded default (SQLite) keeps one in
    # data_dir/audit/key (0600); a shared store (PostgreSQL) refuses to open without it.
    audit_key: str = field(default="", repr=False)
    # Where the chain's head is anchored outside the database after each change (empty: data_dir/audit/anchors.jsonl).
    audit_anchor_path: Path = Path("")
    # Wrong passwords in a row before an account is locked, and for how long (dashboard and CLI alike).
    sign_in_max_failures: int = 5
    sign_in_lock_seconds: float = 900.0
    # Failed sign-ins from one source (a client address, a CLI's OS user) within the window, whatever names
    # they tried, before every sign-in from it is refused until the oldest leave the window.
    sign_in_source_max_failures: int = 20
    sign_in_source_window_seconds: float = 900.0
    # The tier policy (pipeline_core.policy): validators a version needs and months an approval lasts, per
    # materiality tier. 0: the default (DEFAULT_POLICIES: tier 1 two validators and 12 months, tiers 2-3 one
    # validator and 24 / 36 months). Critical checks per tier: "monitor:metric" names, comma-separated.
    policy_tier1_approvals: int = 0
    policy_tier2_approvals: int = 0
    policy_tier3_approvals: int = 0
    policy_tier1_revalidation_months: int = 0
    policy_tier2_revalidation_months: int = 0
    policy_tier3_revalidation_months: int = 0
    policy_tier1_critical_checks: str = ""
    policy_tier2_critical_checks: str = ""
    policy_tier3_critical_checks: str = ""
    # Alert notifications (README "Alerts"): each alert raised or resolved is sent to every channel set here.
    # E-mail: an SMTP server reached with STARTTLS (never in clear), signed in when a username is set.
    alert_smtp_host: str = ""  # empty: no e-mail
    alert_smtp_port: int = 587
    alert_smtp_username: str = ""  # empty: no sign-in; else the secret MLOPS_ALERT_SMTP_PASSWORD too
    alert_smtp_password: str = field(default="", repr=False)
    alert_smtp_from: str = ""
    alert_smtp_to: str = ""  # addresses, comma-separated
    alert_smtp_ca_bundle: str = ""  # PEM file of the server's CA; empty: the system's trust store
    # Webhook: a POST of the alert in a format ("json", "slack", "teams"), signed with HMAC-SHA256 over
    # "<timestamp>.<body>" with the shared secret. Both the URL and the secret are secrets.
    alert_webhook_url: str = field(default="", repr=False)  # empty: no webhook; https (http only to loopback)
    alert_webhook_secret: str = field(default="", repr=False)
    alert_webhook_format: str = "json"
    # Delivery: attempts per notification and channel, the wait after the first failure (doubled each time,
    # at most an hour), and how long one attempt may take.
    alert_delivery_max_attempts: int = 6
    alert_delivery_backoff_seconds: float = 30.0
    alert_delivery_timeout: float = 10.0

    def __post_init__(self) -> None:
        self.policies()  # a bad policy setting fails at load, naming its key, not at the first approval
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().resolve())
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'mlops.db'}")
        if str(self.artifact_dir) in ("", "."):
            object.__setattr__(self, "artifact_dir", self.data_dir / "artifacts")
        else:
            object.__setattr__(self, "artifact_dir", Path(self.artifact_dir).expanduser().resolve())
        if self.sign_in_max_failures < 1 or self.sign_in_lock_seconds <= 0:
            raise ConfigError("settings sign_in_max_failures must be >= 1 and sign_in_lock_seconds positive")
        if self.sign_in_source_max_failures < 1 or self.sign_in_source_window_seconds <= 0:
            raise ConfigError(
                "settings sign_in_source_max_failures must be >= 1 and sign_in_source_window_seconds positive, got "
                f"{self.sign_in_source_max_failures!r} and {self.sign_in_source_window_seconds!r}"
            )
        if str(self.audit_anchor_path) in ("", "."):
            object.__setattr__(self, "audit_anchor_path", self.data_dir / "audit" / "anchors.jsonl")
        else:
            object.__setattr__(self, "audit_anchor_path", Path(self.audit_anchor_path).expanduser().resolve())
        object.__setattr__(self, "data_roots", _data_roots(self.data_roots, self.data_dir))
        if not self.scoring_url:
            object.__setattr__(self, "scoring_url", f"http://{self.serve_host}:{self.serve_port}")
        for name in (
            "heartbeat_interval",
            "heartbeat_timeout",
            "poll_interval",
            "serving_refresh_interval",
            "evaluation_claim_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"setting {name} must be positive, got {getattr(self, name)!r}")
        if self.evaluation_interval < 0 or self.evaluation_max_records < 1:
            raise ConfigError("settings evaluation_interval must be >= 0 and evaluation_max_records >= 1")
        if self.max_scoring_rows < 1 or not 0 < self.serve_port < 65536:
            raise ConfigError("settings max_scoring_rows must be >= 1 and serve_port in 1-65535")
        for name in ("max_request_bytes", "max_scoring_fields", "max_string_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"setting {name} must be >= 1, got {getattr(self, name)!r}")
        # The parser and the checks recurse once per level and int() refuses more than 4,300 digits: stay below.
        if not 5 <= self.max_json_depth <= 200:
            raise ConfigError(f"setting max_json_depth must be in 5-200, got {self.max_json_depth!r}")
        if not 1 <= self.max_number_digits <= 4_000:
            raise ConfigError(f"setting max_number_digits must be in 1-4000, got {self.max_number_digits!r}")
        if not 0 < self.max_number_magnitude < float("inf"):
            raise ConfigError(
                f"setting max_number_magnitude must be positive and finite, got {self.max_number_magnitude!r}"
            )
        if not 0 <= self.payload_wal_sync_interval <= 1:
            raise ConfigError(
                f"setting payload_wal_sync_interval must be in 0-1 s, got {self.payload_wal_sync_interval!r}"
            )
        if self.payload_queue_max_records < 1 or self.payload_wal_segment_bytes < 4096 or self.payload_retry_after < 1:
            raise ConfigError(
                "settings payload_queue_max_records must be >= 1, payload_wal_segment_bytes >= 4096 "
                "and payload_retry_after >= 1 (seconds)"
            )
        if self.shadow_queue_max_records < 1:
            raise ConfigError(f"setting shadow_queue_max_records must be >= 1, got {self.shadow_queue_max_records!r}")
        if self.artifact_backend not in ("local", "s3"):
            raise ConfigError(f"setting artifact_backend {self.artifact_backend!r} is not 'local' or 's3'")
        if self.artifact_backend == "s3" and not (self.s3_bucket and self.s3_endpoint):
            raise ConfigError(
                "artifact_backend 's3' needs s3_bucket and s3_endpoint (MLOPS_S3_BUCKET, MLOPS_S3_ENDPOINT)"
            )
        for name in ("deployment_backend", "monitor_backend", "factsheet_backend"):
            if getattr(self, name) not in ("local", "ibm"):
                raise ConfigError(f"setting {name} {getattr(self, name)!r} is not 'local' or 'ibm'")
            if getattr(self, name) == "ibm" and not self.ibm_url:
                raise ConfigError(f"{name} 'ibm' needs ibm_url (MLOPS_IBM_URL) and the secret MLOPS_IBM_API_KEY")
        for name, service in (("monitor_backend", "OpenScale"), ("factsheet_backend", "AI Factsheets")):
            if getattr(self, name) == "ibm" and self.deployment_backend != "ibm":
                raise ConfigError(
                    f"{name} 'ibm' ({service}) works on watsonx.ai deployments: set deployment_backend 'ibm' too"
                )
        object.__setattr__(self, "log_level", self.log_level.strip().lower())
        if self.log_level not in LEVELS:
            raise ConfigError(f"setting log_level {self.log_level!r} is not one of {', '.join(LEVELS)}")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError(
                f"setting heartbeat_timeout ({self.heartbeat_timeout}) must exceed "
                f"heartbeat_interval ({self.heartbeat_interval})"
            )
        self._check_alert_channels()

    def _check_alert_channels(self) -> None:
        """A channel that is set is usable: a bad address or a missing secret fails at load, naming the setting."""
        if self.alert_delivery_max_attempts < 1 or self.alert_delivery_backoff_seconds <= 0:
            raise ConfigError(
                "settings alert_delivery_max_attempts must be >= 1 and alert_delivery_backoff_seconds positive, got "
                f"{self.alert_delivery_max_attempts!r} and {self.alert_delivery_backoff_seconds!r}"
            )
        if self.alert_delivery_timeout <= 0:
            raise ConfigError(f"setting alert_delivery_timeout must be positive, got {self.alert_delivery_timeout!r}")
        if self.alert_webhook_format not in WEBHOOK_FORMATS:
            raise ConfigError(
                f"setting alert_webhook_format {self.alert_webhook_format!r} is not one of {', '.join(WEBHOOK_FORMATS)}"
            )
        if self.alert_webhook_url:
            _check_webhook_url(self.alert_webhook_url)
            if not self.alert_webhook_secret:
                raise ConfigError(
                    "setting alert_webhook_url is set but the secret alert_webhook_secret is empty "
                    "(MLOPS_ALERT_WEBHOOK_SECRET): receivers verify each body's signature with it"
                )
        elif self.alert_webhook_secret:
            raise ConfigError("the secret alert_webhook_secret is set but alert_webhook_url is empty")
        if not self.alert_smtp_host:
            set_anyway = [
                n for n in ("alert_smtp_username", "alert_smtp_password", "alert_smtp_to") if getattr(self, n)
            ]
            if set_anyway:
                raise ConfigError(f"setting {set_anyway[0]} is set but alert_smtp_host is empty")
            return
        if not 0 < self.alert_smtp_port < 65536:
            raise ConfigError(f"setting alert_smtp_port must be in 1-65535, got {self.alert_smtp_port!r}")
        if not _address(self.alert_smtp_from):
            raise ConfigError(f"setting alert_smtp_from {self.alert_smtp_from!r} is not an e-mail address")
        recipients = self.alert_recipients()
        if not recipients:
            raise ConfigError("setting alert_smtp_to is empty: e-mail alerts need at least one address")
        for address in recipients:
            if not _address(address):
                raise ConfigError(f"setting alert_smtp_to: {address!r} is not an e-mail address")
        if bool(self.alert_smtp_username) != bool(self.alert_smtp_password):
            missing = "the secret alert_smtp_password (MLOPS_ALERT_SMTP_PASSWORD)"
            raise ConfigError(
                f"setting alert_smtp_username is set but {missing} is empty"
                if self.alert_smtp_username
                else "the secret alert_smtp_password is set but alert_smtp_username is empty"
            )
        if self.alert_smtp_ca_bundle and not Path(self.alert_smtp_ca_bundle).expanduser().is_file():
            raise ConfigError(f"setting alert_smtp_ca_bundle {self.alert_smtp_ca_bundle!r} is not a file")

    def alert_recipients(self) -> tuple[str, ...]:
        """The addresses of ``alert_smtp_to``."""
        return tuple(a.strip() for a in self.alert_smtp_to.split(",") if a.strip())

    def policies(self) -> dict[Tier, TierPolicy]:
        """Each tier's policy: the defaults, with what these settings override; a bad value names its setting."""
        found: dict[Tier, TierPolicy] = {}
        for tier, default in DEFAULT_POLICIES.items():
            prefix = f"policy_tier{int(tier)}_"
            approvals = getattr(self, prefix + "approvals") or default.approvals
            months = getattr(self, prefix + "revalidation_months") or default.revalidation_months
            checks_text = getattr(self, prefix + "critical_checks")
            checks = tuple(c.strip() for c in checks_text.split(",") if c.strip()) or default.critical_checks
            try:
                found[tier] = replace(default, approvals=approvals, revalidation_months=months, critical_checks=checks)
            except ConfigError as exc:
                named = [
                    f"{prefix}{name}"
                    for name in ("approvals", "revalidation_months", "critical_checks")
                    if getattr(self, prefix + name)
                ]
                raise ConfigError(f"setting {' / '.join(named) or prefix}: {exc}") from exc
        return found

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        config_file: str | Path | None = None,
        secrets_file: str | Path | None = None,
    ) -> Settings:
        """Settings from ``mlops.toml`` (if present), secrets from ``.streamlit/secrets.toml``'s ``[mlops]`` table
        (if present, or the file named by ``MLOPS_SECRETS_FILE``), all overlaid with ``MLOPS_*`` variables."""
        env = os.environ if env is None else env
        path = Path(config_file or env.get(f"{ENV_PREFIX}CONFIG", "mlops.toml"))
        values: dict[str, Any] = {}
        if path.is_file():
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
            secrets_in_file = sorted(SECRETS & set(values))
            if secrets_in_file:
                raise ConfigError(
                    f"config file {str(path)!r} sets {secrets_in_file[0]!r}: secrets come from the environment "
                    f"(MLOPS_{secrets_in_file[0].upper()}), never from a file that could be committed"
                )
        elif config_file is not None or f"{ENV_PREFIX}CONFIG" in env:
            raise ConfigError(f"config file {str(path)!r} does not exist")
        named = secrets_file is not None or f"{ENV_PREFIX}SECRETS_FILE" in env
        values.update(_secrets(Path(secrets_file or env.get(f"{ENV_PREFIX}SECRETS_FILE") or SECRETS_FILE), named))
        for f in fields(cls):
            key = f"{ENV_PREFIX}{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
        return cls.from_dict(values, source=str(path))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = "settings") -> Settings:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        defaults = cls()
        for key, raw in values.items():
            if key not in known:
                raise ConfigError(f"{source}: unknown setting {key!r}; known settings: {sorted(known)}")
            default = getattr(defaults, key)
            try:
                if isinstance(default, bool):
                    kwargs[key] = _boolean(key, raw, source)
                    continue
                if isinstance(default, tuple):
                    kwargs[key] = _folders(key, raw, source)
                    continue
                kwargs[key] = type(default)(raw) if not isinstance(default, Path) else Path(str(raw))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{source}: setting {key} = {raw!r} is not a valid {type(default).__name__}") from exc
        return cls(**kwargs)


def _boolean(key: str, raw: Any, source: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{source}: setting {key} = {raw!r} is not a boolean (true/false)")


def _folders(key: str, raw: Any, source: str) -> tuple[Path, ...]:
    """Folders from the environment (``os.pathsep``-separated text) or a file (a list of strings, or that text)."""
    if isinstance(raw, str):
        return tuple(Path(part) for part in raw.split(os.pathsep) if part.strip())
    if isinstance(raw, list | tuple) and all(isinstance(part, str | Path) for part in raw):
        return tuple(Path(str(part)) for part in raw if str(part).strip())
    raise ConfigError(f"{source}: setting {key} = {raw!r} is not a list of folders")


def _data_roots(roots: Any, data_dir: Path) -> tuple[Path, ...]:
    """The folders training data may be read from, absolute; none given: the data folder's ``datasets``."""
    folders = _folders("data_roots", roots, "settings") if not isinstance(roots, tuple) else roots
    if not folders:
        return (data_dir / "datasets",)
    return tuple(Path(folder).expanduser().resolve() for folder in folders)


def _secrets(path: Path, named: bool) -> dict[str, str]:
    """The secret settings of ``path``'s ``[mlops]`` table (Streamlit's secrets file, git-ignored); {} without it.

    Only secrets: a setting that is not one belongs in ``mlops.toml``, so that one file says how the product runs.
    """
    if not path.is_file():
        if named:
            raise ConfigError(f"secrets file {str(path)!r} does not exist")
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get(SECRETS_TABLE, {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"secrets file {str(path)!r} is not valid TOML: {exc}") from exc
    if not isinstance(table, dict):
        raise ConfigError(f"secrets file {str(path)!r}: [{SECRETS_TABLE}] must be a table of secret settings")
    for key, value in table.items():
        if key not in SECRETS:
            raise ConfigError(
                f"secrets file {str(path)!r} sets {key!r} in [{SECRETS_TABLE}], which is not a secret: "
                "put it in mlops.toml"
            )
        if not isinstance(value, str):
            raise ConfigError(f"secrets file {str(path)!r}: secret {key} must be a string")
    return dict(table)


def _address(text: str) -> bool:
    """Whether ``text`` looks like one e-mail address (local@domain, no spaces, commas or angle brackets)."""
    local, at, domain = text.strip().rpartition("@")
    return bool(at and local and "." in domain and not any(c in text for c in " ,<>\t\r\n"))


def _check_webhook_url(url: str) -> None:
    """An absolute https URL (http only to this machine); the message never repeats it, as it carries a token."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(f"setting alert_webhook_url is not a URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(
            f"setting alert_webhook_url must be an absolute https:// URL (scheme {parts.scheme or 'none'!r}, "
            f"host {host or 'none'!r})"
        )
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise ConfigError(
            f"setting alert_webhook_url must use https to reach {host!r}: http is allowed only to this machine"
        )
    if parts.username or parts.password:
        raise ConfigError("setting alert_webhook_url must not carry a user name or password; sign with the secret")
