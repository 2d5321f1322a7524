"""Commands of the certificate-sharing gateway: ``serve``, ``clients``, ``audit``, ``harvest``, ``quarantine``,
``webhooks``, ``issuers``, ``keys``, ``purge``. Registered on :data:`gateway.cli.options.app`; the work is done in ``gateway`` proper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.options import (
    DbOpt,
    JsonOpt,
    SystemsOpt,
    app,
    guard,
    ledger_engine,
    require_free_port,
    runtime_from,
)
from gateway.cli.output import activity, console, fail, local_time, print_json, print_table
from gateway.contract.errors import ConfigError

clients_app = typer.Typer(no_args_is_help=True, help="API clients of the gateway (department systems, the hall).")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
issuers_app = typer.Typer(no_args_is_help=True, help="Issuers' public keys, for verifying harvested certificates.")
keys_app = typer.Typer(no_args_is_help=True, help="The gateway's own keys (PII sealing, MAC, signing).")
quarantine_app = typer.Typer(no_args_is_help=True, help="What the certificate harvest refused, and its resolution.")
webhooks_app = typer.Typer(no_args_is_help=True, help="Webhook deliveries to subscribers: the dead ones, and retrying "
                                                      "them once the receiver is mended.")
app.add_typer(clients_app, name="clients")
app.add_typer(audit_app, name="audit")
app.add_typer(issuers_app, name="issuers")
app.add_typer(keys_app, name="keys")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(webhooks_app, name="webhooks")

GatewayOpt = Annotated[Path | None, typer.Option("--gateway", help="Gateway file (default: $TONGBAN_GATEWAY, "
                                                                   "gateway.yaml, config/gateway.yaml).")]


def _gateway(systems: Path | None, database_url: str | None, gateway_file: Path | None) -> Any:
    from gateway.sharing.settings import GatewayRuntime, load_gateway_settings

    return GatewayRuntime.create(runtime_from(systems, database_url), settings=load_gateway_settings(gateway_file))


@app.command()
@guard
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8400,
    gateway_file: GatewayOpt = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Run the gateway API (uvicorn, one worker) until Ctrl+C."""
    import uvicorn

    from gateway.crypto.pii import install_log_redaction
    from gateway.sharing.api import create_app

    require_free_port(host, port, "gateway API")
    application = create_app(_gateway(systems, database_url, gateway_file))
    install_log_redaction()
    uvicorn.run(application, host=host, port=port, log_level="info")


@clients_app.command("add")
@guard
def clients_add(
    name: Annotated[str, typer.Argument(help="Client name (the sharing policy refers to it).")],
    department: Annotated[str | None, typer.Option("--department", help="实施主体 USCC of the client's department.")] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Repeat; default: certificates:query, "
                                                                    "cases:read, subscriptions.")] = None,
    days: Annotated[float, typer.Option("--days", help="Credential lifetime in days (0: no expiry).")] = 365,
    rate_limit: Annotated[float | None, typer.Option("--rate-limit", help="Requests/s (default from the "
                                                                          "gateway file).")] = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a client; its credential is shown once and stored only as a salted hash."""
    from gateway.models import validate_uscc
    from gateway.sharing.access.clients import DEFAULT_SCOPES, ClientStore

    dept = validate_uscc(department)[0] if department else None
    issued = ClientStore(ledger_engine(None, database_url)).add(
        name, department_code=dept, scopes=scope or DEFAULT_SCOPES, days=days or None, rate_limit=rate_limit)
    if json_out:
        print_json({**issued.client.as_dict(), "credential": issued.credential})
        return
    console.print(f"[green]client {name} added[/] (id {issued.client.client_id}, scopes "
                  f"{', '.join(sorted(issued.client.scopes))}, expires {local_time(issued.client.expires_at) if issued.client.expires_at else 'never'})")
    console.print(f"credential (shown once, store it now): [bold]{issued.credential}[/]")


@clients_app.command("list")
@guard
def clients_list(database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Every client with its scopes, expiry and whether it is active (never a secret)."""
    from gateway.sharing.access.clients import ClientStore

    rows = [c.as_dict() for c in ClientStore(ledger_engine(None, database_url, existing=True)).list()]
    if json_out:
        print_json(rows)
        return
    print_table("clients", ["id", "name", "department", "scopes", "expires", "revoked", "active"],
                [[r["client_id"], r["name"], r["department_code"], ", ".join(r["scopes"]), r["expires_at"],
                  r["revoked_at"], r["active"]] for r in rows])


@clients_app.command("revoke")
@guard
def clients_revoke(client: Annotated[str, typer.Argument(help="Client id or name.")], database_url: DbOpt = None,
                   json_out: JsonOpt = False) -> None:
    """Revoke a client: its credential stops working (within seconds in a running server)."""
    from gateway.sharing.access.clients import ClientStore

    revoked = ClientStore(ledger_engine(None, database_url)).revoke(client)
    if json_out:
        print_json(revoked.as_dict())
    else:
        console.print(f"[green]client {revoked.name} ({revoked.client_id}) revoked[/]")


def _verifier() -> Any:
    """The current signing key and every retired one, chosen by each signature's ``kid``: checkpoints signed
    before ``tongban keys rotate-signing`` still verify."""
    from gateway.crypto.jws import KeySetVerifier, verification_jwks
    from gateway.crypto.keys import GatewayKeys

    keys = GatewayKeys.from_env()
    return KeySetVerifier(verification_jwks(keys)) if keys else None


@audit_app.command("verify")
@guard
def audit_verify(
    algorithm: Annotated[str, typer.Option("--hash", help="sha256 or sm3 (as the gateway file says).")] = "sha256",
    anchors: Annotated[list[Path] | None, typer.Option(
        "--anchors", help="An anchor file (the gateway file's audit_anchor_file, copied from each gateway host); "
                          "repeat for several. Default: the gateway file's, when it exists.")] = None,
    database_url: DbOpt = None,
    gateway_file: GatewayOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recompute the hash chain and check the signed checkpoints, and the anchors kept outside the ledger; any
    changed, removed or reordered row fails, named by its sequence number."""
    from gateway.sharing.access.audit import ChainProblem, read_anchors, verify_chain

    missing: Path | None = None  # the gateway file's anchor file, configured but not there
    if not anchors:
        from gateway.sharing.settings import configured_anchor_file

        configured = configured_anchor_file(gateway_file)
        anchors = [configured] if configured is not None and configured.is_file() else []
        missing = configured if configured is not None and not anchors else None
    try:
        anchored = [a for path in anchors for a in read_anchors(path)]
    except (OSError, ValueError) as exc:
        fail(f"anchors: {exc}")
        raise typer.Exit(1) from None
    report = verify_chain(ledger_engine(None, database_url, existing=True), algorithm=algorithm, verifier=_verifier(),
                          anchors=anchored)
    if missing is not None and report.checkpoints:
        # the writer appends every checkpoint there: gone while the ledger holds checkpoints, the anchors were
        # removed (or this is not the gateway's host) — skipped in silence, deleting the file defeated the check
        report.problems.append(ChainProblem(0, f"audit_anchor_file {missing} is configured but not there, while "
                                               f"the ledger holds {report.checkpoints} checkpoints: the anchors were "
                                               "removed, or run this on the gateway's host (or give --anchors FILE)"))
    if json_out:
        print_json(report.as_dict())
    elif report.ok:
        note = f", {report.unverified_checkpoints} checkpoint signature(s) not checked (no keys)" \
            if report.unverified_checkpoints else ""
        console.print(f"[green]audit chain ok[/]: {report.entries} entries, {report.checkpoints} checkpoints, "
                      f"{report.anchors} anchors outside the ledger, head {report.head[:16]}…{note}")
    else:
        for problem in report.problems:
            fail(str(problem))
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
@guard
def audit_checkpoint(database_url: DbOpt = None, gateway_file: GatewayOpt = None, json_out: JsonOpt = False) -> None:
    """Sign the current head of the chain now (the server also does it periodically)."""
    from gateway.crypto.jws import JwsSigner
    from gateway.crypto.keys import GatewayKeys
    from gateway.sharing.access.audit import make_checkpoint
    from gateway.sharing.settings import load_gateway_settings

    keys = GatewayKeys.from_env()
    if keys is None:
        fail("signing a checkpoint needs the gateway's keys (TONGBAN_KEY_FILE)")
        raise typer.Exit(1)
    settings = load_gateway_settings(gateway_file)
    row = make_checkpoint(ledger_engine(None, database_url), JwsSigner.from_keys(keys), settings.audit_hash,
                          anchor_file=settings.audit_anchor_file)
    if json_out:
        print_json(row or {})
    else:
        console.print(f"checkpoint at seq {row['seq']}" if row else "nothing new to checkpoint")


@app.command()
@guard
def harvest(
    issuer: Annotated[str | None, typer.Argument(help="Issuer name from the gateway file (default: all).")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh")] = False,
    gateway_file: GatewayOpt = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Harvest certificates from issuing systems (verify, quarantine, propagate status, notify)."""
    from gateway.sharing.certificates import harvest as run

    gw = _gateway(systems, database_url, gateway_file)
    names = [issuer] if issuer else sorted(gw.settings.issuers)
    reports = []
    with activity("harvest", enabled=not json_out, unit="issuers") as progress:
        for name in names:
            reports.append(run(gw, name, full_refresh=full_refresh).as_dict())
            progress(len(reports))
    if json_out:
        print_json(reports)
        return
    print_table("harvest", ["issuer", "read", "new", "updated", "unchanged", "quarantined", "events", "notified"],
                [[r["issuer"], r["read"], r["inserted"], r["updated"], r["unchanged"], r["quarantined"], r["events"],
                  r["notified"]] for r in reports])


@quarantine_app.command("list")
@guard
def quarantine_list(
    issuer: Annotated[str | None, typer.Option("--issuer", help="Only this issuing system's entries.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved ones.")] = False,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Refused copies, newest first: why, and which served certificate each marks (a refused newer version)."""
    from gateway.sharing.certificates import list_quarantine

    entries = list_quarantine(ledger_engine(None, database_url, existing=True), issuer=issuer, include_resolved=all_, limit=limit)
    if json_out:
        print_json([e.as_dict() for e in entries])
        return
    print_table("certificate quarantine (times in Beijing time; tongban quarantine resolve ID --note …)",
                ["id", "issuer", "source id", "at", "marks", "resolved", "reason"],
                [[e.id, e.source_system, e.source_id, local_time(e.created_at), e.flags or "",
                  e.resolution or "", e.reason] for e in entries])


@quarantine_app.command("resolve")
@guard
def quarantine_resolve(
    entry_id: Annotated[int, typer.Argument(help="The id from tongban quarantine list.")],
    note: Annotated[str, typer.Option("--note", help="What the issuer confirmed (kept with the entry).")],
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """After checking with the issuer: resolve an entry; the certificate it marked is served without the mark."""
    from gateway.sharing.certificates import resolve_quarantine

    cleared = resolve_quarantine(ledger_engine(None, database_url, existing=True), entry_id, note)
    if json_out:
        print_json({"id": entry_id, "unmarked": cleared})
    else:
        console.print(f"[green]resolved[/] quarantine entry {entry_id}"
                      + (f"; no longer marked: {', '.join(cleared)}" if cleared else ""))


@webhooks_app.command("list")
@guard
def webhooks_list(
    status: Annotated[str, typer.Option("--status", help="dead (given up: the default), pending, delivered or all.")
                      ] = "dead",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Deliveries, newest first: to whom, which event, how many attempts, the last error. A dead one is kept, never
    retried by itself: mend the receiver, then ``tongban webhooks retry``."""
    from urllib.parse import urlsplit

    from gateway.store.subscriptions import list_deliveries

    statuses = ("dead", "pending", "delivered", "all")
    if status not in statuses:
        raise ConfigError(f"--status {status!r}: expected one of {', '.join(statuses)}")
    engine = ledger_engine(None, database_url, existing=True)
    with engine.connect() as conn:
        rows = list_deliveries(conn, status=None if status == "all" else status, limit=limit)
    found = [{"id": r.id, "status": r.status, "client": r.client_name or r.client_id, "subscription": r.subscription_id,
              "active": bool(r.active), "host": urlsplit(r.url).hostname, "event_id": r.event_id,
              "attempts": r.attempts, "last_error": r.last_error, "queued_at": r.created_at,
              "delivered_at": r.delivered_at} for r in rows]
    if json_out:
        print_json(found)
        return
    print_table(f"webhook deliveries: {status} (times in Beijing time; tongban webhooks retry ID … | --all-dead)",
                ["id", "status", "client", "receiver", "event", "attempts", "queued", "last error"],
                [[f["id"], f["status"] + ("" if f["active"] else " (cancelled)"), f["client"], f["host"],
                  f["event_id"], f["attempts"], local_time(f["queued_at"]), f["last_error"] or ""] for f in found])


@webhooks_app.command("retry")
@guard
def webhooks_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids from tongban webhooks list.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead delivery of a live subscription.")] = False,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Queue dead deliveries again (after the receiver is mended): due at once, a fresh count of attempts; the
    gateway's delivery loop (or the next harvest) sends them. One of a cancelled subscription or a revoked client
    is left as it is, and said."""
    from gateway.sharing.certificates import retry_dead

    if bool(ids) == all_dead:
        raise ConfigError("give the ids to retry, or --all-dead (not both)")
    revived, left = retry_dead(ledger_engine(None, database_url, existing=True), None if all_dead else list(ids or []))
    if json_out:
        print_json({"queued": revived, "left": left})
        return
    console.print(f"[green]queued again[/]: {len(revived)} deliver{'y' if len(revived) == 1 else 'ies'}"
                  + (f" ({', '.join(map(str, revived))})" if revived and len(revived) <= 20 else ""), highlight=False)
    if left:
        console.print(f"[yellow]left[/]: {', '.join(map(str, left))} — not dead, unknown, or for a cancelled "
                      "subscription or a revoked client", highlight=False)


@issuers_app.command("add")
@guard
def issuers_add(
    from_url: Annotated[str | None, typer.Option("--from-url", help="The issuer's published key list (JSON "
                                                                    "{keys: [{kid, alg, issuer_code, public_key}]}).")] = None,
    issuer_code: Annotated[str | None, typer.Option("--issuer-code")] = None,
    key_id: Annotated[str | None, typer.Option("--key-id")] = None,
    algorithm: Annotated[str, typer.Option("--algorithm", help="Ed25519 or SM2")] = "Ed25519",
    public_key: Annotated[str | None, typer.Option("--public-key")] = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register an issuer's public key (check its fingerprint with the issuer out of band)."""
    import requests

    from gateway.sharing.certificates import register_issuer_key

    engine = ledger_engine(None, database_url)
    if from_url:
        entries = requests.get(from_url, timeout=30).json()["keys"]
    elif issuer_code and key_id and public_key:
        entries = [{"kid": key_id, "alg": algorithm, "issuer_code": issuer_code, "public_key": public_key}]
    else:
        fail("give --from-url, or --issuer-code, --key-id and --public-key")
        raise typer.Exit(1)
    added = [register_issuer_key(engine, key_id=e["kid"], issuer_code=e["issuer_code"], algorithm=e["alg"],
                                 public_key=e["public_key"]) for e in entries]
    if json_out:
        print_json([k.__dict__ if hasattr(k, "__dict__") else {"key_id": k.key_id, "issuer_code": k.issuer_code}
                    for k in added])
    else:
        for k in added:
            console.print(f"[green]registered[/] {k.key_id} ({k.algorithm}) for issuer {k.issuer_code}")


@keys_app.command("init")
@guard
def keys_init(
    out: Annotated[Path, typer.Option("--out", help="Key file to write (mode 0600).")],
    pii_cipher: Annotated[str, typer.Option("--pii-cipher", help="AES-GCM or SM4-GCM")] = "AES-GCM",
    signing_alg: Annotated[str, typer.Option("--signing-alg", help="EdDSA or SM2")] = "EdDSA",
    force: Annotated[bool, typer.Option("--force")] = False,
) -> None:
    """Write a fresh key file; point TONGBAN_KEY_FILE at it."""
    from gateway.crypto.keys import GatewayKeys

    if out.exists() and not force:
        fail(f"{out} exists (use --force to replace it: data sealed with its keys becomes unreadable)")
        raise typer.Exit(1)
    GatewayKeys.generate(pii_cipher=pii_cipher, signing_alg=signing_alg).write(out)
    console.print(f"[green]wrote {out}[/]; export TONGBAN_KEY_FILE={out}")


@keys_app.command("rotate")
@guard
def keys_rotate(
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
    reseal_only: Annotated[bool, typer.Option("--reseal-only", help="Add no new key: re-seal what an earlier "
                                                                    "rotation left under an old key.")] = False,
) -> None:
    """Add a new current PII key to $TONGBAN_KEY_FILE and re-seal every sealed value with it; seal what a process
    without the key file wrote in clear (raw payloads, applicants' ID numbers) and what an older Tongban kept in clear
    (the certificates' files, the citizen side's comments, complaints and queued messages).

    Then counts, column by column, what is still sealed under an older key (a value whose key is missing from
    the file, a row written meanwhile with the old key file): the rotation is done only when none is, and until
    then the command exits 1 and the old keys must stay in the key file."""
    import os

    from gateway.crypto.keys import GatewayKeys
    from gateway.crypto.pii import PiiCodec
    from gateway.store.retention import reseal_all, seal_clear, stale_seals
    from gateway.store.sealing import require_ledger_keys

    path = os.environ.get("TONGBAN_KEY_FILE")
    keys = GatewayKeys.from_env()
    if keys is None or (not path and not reseal_only):  # --reseal-only adds no key: keys from the environment do
        fail("rotation writes a new key into the key file: set TONGBAN_KEY_FILE (with keys given as "
             "TONGBAN_PII_KEYS…, `tongban keys rotate --reseal-only` re-seals and seals what is in clear)"
             if keys is not None else "no keys: set TONGBAN_KEY_FILE to the ledger's key file")
        raise typer.Exit(1)
    engine = ledger_engine(None, database_url)
    with engine.begin() as conn:  # another ledger's key file: refused before it is rotated or anything re-sealed
        require_ledger_keys(conn, PiiCodec(keys), what="rotate the PII keys")
    rotated = keys if reseal_only else keys.rotated()
    if not reseal_only:
        rotated.write(path)
    codec = PiiCodec(rotated)
    counts = {**reseal_all(engine, codec), **{k: n for k, n in seal_clear(engine, codec).items() if n}}
    left = {label: n for label, n in stale_seals(engine, codec).items() if n}  # nothing writes in clear any more
    done = not left
    if json_out:
        print_json({"current": rotated.pii_current, "resealed": counts, "still_sealed_under_old_keys": left,
                    "complete": done})
    else:
        console.print(f"[green]{'PII key' if reseal_only else 'new PII key'} {rotated.pii_current}[/]; "
                      f"re-sealed {counts}")
    if not done:
        fail(f"rotation not complete: {sum(left.values())} row(s) still sealed under an old key ({left}); keep "
             "the old keys in the key file, and run `tongban keys rotate --reseal-only` once their keys are there")
        raise typer.Exit(1)
    if not json_out:
        console.print("every sealed value is under the current key: the old keys may leave the key file")


@keys_app.command("rotate-signing")
@guard
def keys_rotate_signing(json_out: JsonOpt = False) -> None:
    """Give the gateway a new signing key (same algorithm) in $TONGBAN_KEY_FILE; the old key's public half stays
    in the file (``signing_keys_retired``) and in ``GET /v1/keys``, so receipts, webhook deliveries and audit
    checkpoints it signed still verify by their ``kid``. Restart the gateway processes to sign with the new key."""
    import os

    from gateway.crypto.jws import JwsSigner, rotated_signing
    from gateway.crypto.keys import GatewayKeys

    path = os.environ.get("TONGBAN_KEY_FILE")
    keys = GatewayKeys.from_env()
    if not path or keys is None:
        fail("rotation works on a key file: set TONGBAN_KEY_FILE")
        raise typer.Exit(1)
    old = JwsSigner.from_keys(keys).kid
    rotated = rotated_signing(keys)
    rotated.write(path)
    new = JwsSigner.from_keys(rotated).kid
    if json_out:
        print_json({"current": new, "retired": [j["kid"] for j in rotated.signing_keys_retired]})
    else:
        console.print(f"[green]new signing key {new}[/]; {old} retired (its public key stays in the key file and "
                      "in /v1/keys); restart the gateway to sign with the new key")


@app.command()
@guard
def purge(
    older_than: Annotated[str | None, typer.Option("--older-than", help="Retention: days, weeks or years of 365 "
                                                                        "days (180d, 26w, 1y), at least 1d; not "
                                                                        "'m' (write 180d). Default: the gateway "
                                                                        "file's retention.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    gateway_file: GatewayOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Drop personal data past its retention: resolved dead letters, delivered outbox rows (each case's newest
    receipt stays) and webhooks, the raw payloads of deleted records (their rows stay, for the sync and the
    reconciliation), quarantined certificates, expired consents. The audit log and the citizen outbox stay."""
    from gateway.sharing.settings import load_gateway_settings
    from gateway.store.retention import parse_retention
    from gateway.store.retention import purge as run

    retention = (parse_retention(older_than, "--older-than") if older_than is not None
                 else load_gateway_settings(gateway_file).retention)
    counts = run(ledger_engine(None, database_url, existing=dry_run), retention, dry_run=dry_run)  # a look: no migration
    if json_out:
        print_json({"retention_days": retention.days, "dry_run": dry_run, "purged": counts})
    else:
        print_table(f"purge (older than {retention.days} days){' — dry run' if dry_run else ''}",
                    ["what", "rows"], list(counts.items()))
