"""tls probe: chain and hostname verification, and days until the leaf certificate expires
(counted by :mod:`monitord.certexpiry`'s one rule).

With verification on, an expired, untrusted or mismatched certificate fails the handshake and
leaves nothing to read, so after such a failure the probe makes a second, unverified connection
(same SNI) only to read the certificate the server presents and say precisely what is wrong.
Both connections come from the check's source address when it has one (ProbeContext.source_of).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from monitord.certexpiry import days_left, expiry_message
from monitord.config.models import Site, TlsCheck
from monitord.probes.base import ProbeContext, ProbeResult, describe_oserror

# OpenSSL X509_V_ERR_* codes that the messages distinguish.
_V_ERR_NOT_YET_VALID = 9
_V_ERR_EXPIRED = 10
_V_ERR_SELF_SIGNED = 18
_V_ERR_SELF_SIGNED_IN_CHAIN = 19
_V_ERR_UNKNOWN_ISSUER = 20
_V_ERR_LEAF_NOT_VERIFIABLE = 21
_V_ERR_HOSTNAME_MISMATCH = 62
_V_ERR_IP_MISMATCH = 64

MAX_NAMES_SHOWN = 3
"""Certificate names listed in a mismatch message: enough to recognise it, one short line."""


@dataclass(frozen=True, slots=True)
class CertInfo:
    """The facts about a leaf certificate that the checks and messages use."""

    not_before: datetime
    not_after: datetime
    subject_cn: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    issuer: str

    @property
    def names(self) -> tuple[str, ...]:
        names = self.dns_names + self.ip_addresses
        if not names and self.subject_cn:
            return (self.subject_cn,)
        return names

    def details(self, now: datetime) -> dict[str, Any]:
        return {
            "cert_not_after": self.not_after.isoformat(),
            "cert_not_before": self.not_before.isoformat(),
            "cert_days_left": days_left(self.not_after, now),
            "cert_names": list(self.names),
            "cert_issuer": self.issuer,
        }


def parse_certificate(der: bytes) -> CertInfo:
    """Read a DER certificate (pure)."""
    cert = x509.load_der_x509_certificate(der)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names, ips = (), ()
    return CertInfo(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject_cn=cn,
        dns_names=dns_names,
        ip_addresses=ips,
        issuer=cert.issuer.rfc4514_string(),
    )


def _names(info: CertInfo) -> str:
    names = info.names
    if not names:
        return "no name at all"
    shown = ", ".join(names[:MAX_NAMES_SHOWN])
    more = len(names) - MAX_NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def evaluate_certificate(
    info: CertInfo,
    now: datetime,
    min_days_left: int,
    verify_error: ssl.SSLCertVerificationError | None,
) -> ProbeResult:
    """The verdict on a certificate (pure: ``now`` is passed in).

    ``verify_error`` is the verified handshake's failure, or None when it succeeded.
    """
    details = info.details(now)
    if now >= info.not_after:
        msg, _ = expiry_message(info.not_after, now, min_days_left)
        return ProbeResult(ok=False, message=msg, details=details)
    if now < info.not_before:
        when = info.not_before.strftime("%Y-%m-%d %H:%M UTC")
        return ProbeResult(ok=False, message=f"certificate not valid until {when}", details=details)
    if verify_error is not None:
        details["verify_code"] = verify_error.verify_code
        return ProbeResult(
            ok=False, message=describe_verify_error(verify_error, info), details=details
        )
    message, warning = expiry_message(info.not_after, now, min_days_left)
    return ProbeResult(ok=True, message=message, warning=warning, details=details)


def describe_verify_error(
    err: ssl.SSLCertVerificationError, info: CertInfo | None = None, host: str | None = None
) -> str:
    """A failed verification in words people act on; ``info`` (the certificate, when it could
    be read) or ``host`` (the name asked for) make a mismatch message precise."""
    code = err.verify_code
    if code in (_V_ERR_HOSTNAME_MISMATCH, _V_ERR_IP_MISMATCH):
        if info is not None:
            return f"hostname mismatch: certificate is for {_names(info)}"
        if host:
            return f"hostname mismatch: certificate is not valid for {host}"
        return f"hostname mismatch: {err.verify_message}"
    if code == _V_ERR_EXPIRED:
        return "certificate expired"
    if code == _V_ERR_NOT_YET_VALID:
        return "certificate not yet valid"
    if code in (_V_ERR_SELF_SIGNED, _V_ERR_SELF_SIGNED_IN_CHAIN):
        return f"certificate not trusted: {err.verify_message}"
    if code in (_V_ERR_UNKNOWN_ISSUER, _V_ERR_LEAF_NOT_VERIFIABLE):
        return (
            f"certificate not trusted: {err.verify_message} "
            "(is the intermediate certificate missing from the server's chain?)"
        )
    return f"certificate not trusted: {err.verify_message or err.reason or 'verification failed'}"


async def _peer_der(
    host: str, port: int, ctx: ssl.SSLContext, server_name: str, source: str | None
) -> bytes | None:
    """Handshake and return the leaf certificate (DER); the connection is then dropped."""
    _reader, writer = await asyncio.open_connection(
        host,
        port,
        ssl=ctx,
        server_hostname=server_name,
        local_addr=(source, 0) if source else None,
    )
    try:
        ssl_obj = writer.get_extra_info("ssl_object")
        return ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
    finally:
        # We only wanted the handshake: drop the connection without waiting for close_notify.
        writer.transport.abort()


async def probe(site: Site, spec: TlsCheck, ctx: ProbeContext) -> ProbeResult:
    host = spec.host or site.host
    server_name = spec.server_name or host
    source = ctx.source_of(spec)
    verify_error: ssl.SSLCertVerificationError | None = None
    verifying = ctx.verifying_context(spec.ca_file)
    try:
        der = await _peer_der(host, spec.port, verifying, server_name, source)
    except ssl.SSLCertVerificationError as exc:
        verify_error = exc
        try:
            der = await _peer_der(host, spec.port, ctx.unverified_context(), server_name, source)
        except (OSError, ssl.SSLError) as exc2:
            return ProbeResult(
                ok=False,
                message=f"{describe_verify_error(exc)} (and the certificate could not be read: "
                f"{_describe_conn_error(exc2, source)})",
            )
    except ssl.SSLError as exc:
        return ProbeResult(ok=False, message=f"TLS handshake failed: {_ssl_reason(exc)}")
    except OSError as exc:
        return ProbeResult(ok=False, message=describe_oserror(exc, source))
    if der is None:
        return ProbeResult(ok=False, message="server presented no certificate")
    info = parse_certificate(der)
    result = evaluate_certificate(info, ctx.clock(), spec.min_days_left, verify_error)
    # The name whose certificate this is, for the certificate notice.
    return replace(result, details={**result.details, "host": server_name})


def _ssl_reason(exc: ssl.SSLError) -> str:
    return (exc.reason or str(exc)).lower().replace("_", " ")


def _describe_conn_error(exc: OSError | ssl.SSLError, source: str | None) -> str:
    if isinstance(exc, ssl.SSLError):
        return _ssl_reason(exc)
    return describe_oserror(exc, source)
