"""The vcrpy configuration every connector's cassettes use: scrubbing, matching, readable YAML.

Cassettes live under ``cassettes/<connector>/`` and are replayed by the test suite, which never
touches the network. They are recorded from a connector's sandbox (a local emulation of the real
API) or, by a maintainer with real keys, from the live API. :func:`cassette_vcr` builds the
``vcr.VCR`` that does both:

* **Scrubbing, on record and on match.** Query parameters, form/JSON body fields and request
  headers that carry keys, signatures, nonces or timestamps are replaced by :data:`PLACEHOLDER`
  before a request is written *and* before an incoming request is compared with the recorded
  ones, so a request signed now (new timestamp, new signature) replays the one recorded then.
  Every known secret value (the credential's, passed in as ``secrets``) is replaced anywhere in
  the request and the response, bodies included, raw or URL-encoded.
* **Matching** on method, scheme, host, path, the scrubbed query (order-insensitive) and the
  scrubbed body.
* **Readable cassettes.** Responses are stored decoded (never gzipped); JSON bodies are
  pretty-printed (numbers keep their digits) and written as YAML block scalars; headers that vary
  from one recording to the next (``Date``...) are dropped.
* **Replay only by default.** The record mode is ``"none"``: a request that is not in the
  cassette fails. ``TXSYNC_RECORD=1`` (or ``sandbox``) records from the sandbox, ``TXSYNC_RECORD=live``
  from the live API; recording uses ``"new_episodes"`` so a request repeated during a scenario
  is answered from the cassette.
* **Playback repeats** are allowed: resuming from a checkpoint sends the same requests again.
* **Transient failures are not recorded**: a 429 or 5xx met while recording is dropped, and the
  retry's answer is what the cassette keeps (replaying a repeated request always plays the first
  recorded answer, so a recorded 429 would be replayed forever).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import httpx

from txsync import jsonutil
from txsync.errors import BadResponseError
from txsync.http.redact import is_sensitive_name, secret_forms
from txsync.testing._extra import missing_extra

try:
    import vcr
    import vcr.matchers
    import yaml  # type: ignore[import-untyped]
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised in a subprocess
    raise missing_extra(_exc, "txsync.testing.cassettes") from _exc

__all__ = [
    "CASSETTE_SUFFIXES",
    "DEFAULT_DROPPED_RESPONSE_HEADERS",
    "DEFAULT_SCRUBBED_HEADERS",
    "DEFAULT_SCRUBBED_PARAMS",
    "MATCH_ON",
    "PLACEHOLDER",
    "RECORD_ENV",
    "TRANSIENT_STATUSES",
    "NetworkDisabledError",
    "ReadableYaml",
    "RecordSource",
    "Scrubber",
    "cassette_vcr",
    "find_cassette_leaks",
    "iter_cassette_files",
    "offline_transport",
    "record_source",
]

#: What a scrubbed value is replaced with.
PLACEHOLDER = "REDACTED"

#: Environment variable that switches the suite from replaying to recording.
RECORD_ENV = "TXSYNC_RECORD"

#: Query parameters (and form or JSON body fields) that carry keys, signatures, nonces or timestamps.
#: Compared case-insensitively.
DEFAULT_SCRUBBED_PARAMS: tuple[str, ...] = (
    "signature",
    "timestamp",
    "nonce",
    "apikey",
    "api_key",
    "recvWindow",
)

#: Request headers that carry keys, signatures, nonces, timestamps or sessions (case-insensitive).
DEFAULT_SCRUBBED_HEADERS: tuple[str, ...] = (
    "X-MBX-APIKEY",
    "X-Auth",
    "X-Auth-Signature",
    "X-Auth-Nonce",
    "X-Auth-Timestamp",
    "Api-Key",
    "Api-Signature",
    "Api-Nonce",
    "X-DEMO-APIKEY",
    "Authorization",
    "Proxy-Authorization",
    "Cookie",
)

#: Response headers dropped from cassettes: they change on every recording or hold sessions.
DEFAULT_DROPPED_RESPONSE_HEADERS: tuple[str, ...] = ("Date", "Set-Cookie")

#: Responses with these statuses are not recorded (the retry that follows them is).
TRANSIENT_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})

#: The request matching of every cassette.
MATCH_ON: tuple[str, ...] = ("method", "scheme", "host", "path", "query", "body")

#: File names the cassette scanners look at.
CASSETTE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")

#: Secrets shorter than this are not searched for: they would match ordinary data.
_MIN_SECRET = 6
#: A scrubbed value at least this long (and not all digits) is treated as a signature-like value and
#: also scrubbed wherever else it shows up (a response echoing the request's signature).
_MIN_ECHO = 16
_HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")


class RecordSource(StrEnum):
    """Where requests are answered from, chosen by :data:`RECORD_ENV`."""

    #: Replay only; a request missing from the cassette fails (the default; never the network).
    REPLAY = "replay"
    #: Record from the connector's sandbox (``TXSYNC_RECORD=1`` or ``sandbox``).
    SANDBOX = "sandbox"
    #: Record from the live API with a maintainer's keys (``TXSYNC_RECORD=live``).
    LIVE = "live"


_SOURCES = {
    "": RecordSource.REPLAY,
    "0": RecordSource.REPLAY,
    "no": RecordSource.REPLAY,
    "false": RecordSource.REPLAY,
    "replay": RecordSource.REPLAY,
    "none": RecordSource.REPLAY,
    "1": RecordSource.SANDBOX,
    "yes": RecordSource.SANDBOX,
    "true": RecordSource.SANDBOX,
    "sandbox": RecordSource.SANDBOX,
    "live": RecordSource.LIVE,
}


def record_source(environ: Mapping[str, str] | None = None) -> RecordSource:
    """The record source :data:`RECORD_ENV` asks for (``REPLAY`` when unset).

    Raises ``ValueError`` for a value it does not know, rather than guessing.
    """
    raw = (os.environ if environ is None else environ).get(RECORD_ENV, "")
    try:
        return _SOURCES[raw.strip().lower()]
    except KeyError:
        raise ValueError(
            f"{RECORD_ENV}={raw!r} is not understood: use 1 (record from the sandbox), "
            "live (record from the live API) or leave it unset (replay only)"
        ) from None


class NetworkDisabledError(RuntimeError):
    """A request reached the transport the suite uses while replaying: it is not in the cassette."""


def offline_transport() -> httpx.MockTransport:
    """A transport that refuses every request: what replays run with, so nothing can reach the network.

    vcrpy answers recorded requests before this transport sees them; anything else raises
    :class:`NetworkDisabledError` (naming the host and path only, never the signed query).
    """

    def refuse(request: httpx.Request) -> httpx.Response:
        raise NetworkDisabledError(
            f"{request.method} {request.url.host}{request.url.path} is not in the cassette, and the "
            f"test suite never touches the network: re-record with {RECORD_ENV}=1"
        )

    return httpx.MockTransport(refuse)


def _variants(secret: str) -> set[str]:
    """The forms a secret can take in a request or response: raw, URL-encoded, base64."""
    return {f for f in secret_forms(secret, base64_form=True) if len(f) >= _MIN_SECRET}


class Scrubber:
    """Removes keys, signatures, nonces, timestamps and secrets from vcrpy requests and responses.

    ``request`` is vcrpy's ``before_record_request`` hook (it runs on what is recorded and on what
    is matched), ``response`` its ``before_record_response`` hook. Names are compared
    case-insensitively. ``secrets`` are values to remove anywhere (raw, URL-encoded or base64);
    the values of a request's scrubbed fields that look like signatures are removed from the rest
    of that request and from its response too (an error body echoing the signature).
    """

    def __init__(
        self,
        *,
        secrets: Iterable[str] = (),
        headers: Iterable[str] = (),
        params: Iterable[str] = (),
        drop_response_headers: Iterable[str] = (),
        transient_statuses: Iterable[int] = TRANSIENT_STATUSES,
        placeholder: str = PLACEHOLDER,
    ) -> None:
        self.headers = {h.lower() for h in (*DEFAULT_SCRUBBED_HEADERS, *headers)}
        self.params = {p.lower() for p in (*DEFAULT_SCRUBBED_PARAMS, *params)}
        self.drop_response_headers = {
            h.lower() for h in (*DEFAULT_DROPPED_RESPONSE_HEADERS, *drop_response_headers)
        }
        self.transient_statuses = frozenset(transient_statuses)
        self.placeholder = placeholder
        self._secrets: set[str] = set()
        #: Signature-like values of the request being scrubbed (cleared at each new request).
        self._echo: set[str] = set()
        for secret in secrets:
            self.add_secret(secret)

    def scrubs_header(self, name: str) -> bool:
        """Whether a request header called ``name`` is replaced (listed, or sensitive by its name)."""
        return name.lower() in self.headers or is_sensitive_name(name)

    def scrubs_param(self, name: str) -> bool:
        """Whether a query parameter or body field called ``name`` is replaced."""
        return name.lower() in self.params or is_sensitive_name(name)

    def add_secret(self, secret: str) -> None:
        """Remove ``secret`` (in every encoding) from whatever is scrubbed from now on."""
        if secret and len(secret) >= _MIN_SECRET and secret != self.placeholder:
            self._secrets |= _variants(secret)

    def _observe(self, value: str) -> None:
        if len(value) >= _MIN_ECHO and not value.isdigit() and value != self.placeholder:
            self._echo |= _variants(value)

    def _known(self) -> list[str]:
        return sorted(self._secrets | self._echo, key=len, reverse=True)

    # -- text -------------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced (longest first, so no fragment survives)."""
        for secret in self._known():
            if secret in value:
                value = value.replace(secret, self.placeholder)
        return value

    def data(self, value: bytes) -> bytes:
        """``value`` with every known secret replaced."""
        for secret in self._known():
            raw = secret.encode()
            if raw in value:
                value = value.replace(raw, self.placeholder.encode())
        return value

    def query(self, query: str) -> str:
        """A query string with the scrubbed parameters' values replaced (order and blanks kept)."""
        if not query:
            return query
        pairs = []
        for name, value in parse_qsl(query, keep_blank_values=True):
            if self.scrubs_param(name):
                self._observe(value)
                value = self.placeholder
            pairs.append((name, value))
        return urlencode(pairs)

    def url(self, url: str) -> str:
        """``url`` with its scrubbed query parameters replaced and secrets removed."""
        parts = urlsplit(url)
        scrubbed = urlunsplit(parts._replace(query=self.query(parts.query)))
        return self.text(scrubbed)

    def _json_fields(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(key, str) and self.scrubs_param(key):
                    self._observe(str(item))
                    out[key] = self.placeholder
                else:
                    out[key] = self._json_fields(item)
            return out
        if isinstance(value, list):
            return [self._json_fields(item) for item in value]
        return value

    def body(self, body: bytes | str | None, content_type: str) -> bytes | str | None:
        """A request body with scrubbed form or JSON fields replaced and secrets removed."""
        if body is None or body == b"" or body == "":
            return body
        raw = body.encode() if isinstance(body, str) else body
        kind = content_type.split(";", 1)[0].strip().lower()
        try:
            if kind == "application/x-www-form-urlencoded":
                raw = self.query(raw.decode()).encode()
            elif kind == "application/json" or kind.endswith("+json"):
                raw = jsonutil.dumps(self._json_fields(jsonutil.loads(raw))).encode()
        except (ValueError, UnicodeDecodeError, BadResponseError):
            pass  # not what its content type says: secrets are still removed below
        return self.data(raw)

    # -- vcrpy hooks ------------------------------------------------------------------------------

    def request(self, request: Any) -> Any:
        """vcrpy ``before_record_request``: scrub a (copied) ``vcr.request.Request``. Never drops it."""
        self._echo = set()
        headers: dict[str, str] = {}
        content_type = ""
        for name, value in request.headers.items():
            text = value if isinstance(value, str) else str(value)
            if name.lower() == "content-type":
                content_type = text
            if self.scrubs_header(name):
                self._observe(text)
                text = self.placeholder
            headers[name] = text
        request.uri = self.url(request.uri)
        request.body = self.body(request.body, content_type)
        request.headers = {name: self.text(value) for name, value in headers.items()}
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any] | None:
        """vcrpy ``before_record_response``: drop transient failures, varying headers and secrets.

        JSON bodies are pretty-printed (numbers keep their digits) so the cassette reads well.
        """
        status = response.get("status", {}).get("code")
        if status in self.transient_statuses:
            return None
        headers: dict[str, list[str]] = {}
        for name, values in response.get("headers", {}).items():
            if name.lower() in self.drop_response_headers:
                continue
            headers[name] = [self.text(str(v)) for v in values]
        body = response.get("body", {}).get("string", b"")
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            body = self.data(_pretty_json(body, headers))
            for name in list(headers):
                if name.lower() == "content-length":
                    headers[name] = [str(len(body))]
        response["headers"] = headers
        response["body"] = {"string": body}
        return response


def _pretty_json(body: bytes, headers: Mapping[str, list[str]]) -> bytes:
    kinds = [v.lower() for name, values in headers.items() if name.lower() == "content-type" for v in values]
    if not body.strip() or not any("json" in k for k in kinds):
        return body
    try:
        value = jsonutil.loads(body)
    except BadResponseError:
        return body  # a truncated or malformed body is kept byte for byte
    lines: list[str] = []
    _indent(value, 0, lines, "")
    return "\n".join(lines).encode()


def _indent(value: Any, depth: int, out: list[str], prefix: str) -> None:
    pad = "  " * depth
    if isinstance(value, dict) and value:
        out.append(f"{pad}{prefix}{{")
        items = list(value.items())
        for i, (key, item) in enumerate(items):
            _indent(item, depth + 1, out, json.dumps(key) + ": ")
            if i < len(items) - 1:
                out[-1] += ","
        out.append(f"{pad}}}")
    elif isinstance(value, list) and value:
        out.append(f"{pad}{prefix}[")
        for i, item in enumerate(value):
            _indent(item, depth + 1, out, "")
            if i < len(value) - 1:
                out[-1] += ","
        out.append(f"{pad}]")
    else:
        out.append(f"{pad}{prefix}{jsonutil.dumps(value)}")


# -- YAML -------------------------------------------------------------------------------------------


_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Safe YAML with multi-line strings as block scalars (readable bodies, small diffs)."""


def _str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


class ReadableYaml:
    """The vcrpy serializer of txsync cassettes: safe YAML, bodies as block scalars."""

    @staticmethod
    def serialize(cassette: dict[str, Any]) -> str:
        """Dump a cassette dict."""
        text: str = yaml.dump(cassette, Dumper=_Dumper, allow_unicode=True, width=110, sort_keys=True)
        return text

    @staticmethod
    def deserialize(text: str) -> Any:
        """Load a cassette dict (safe loader: no Python objects)."""
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (libyaml's when present)


def _query_of(request: Any) -> list[tuple[str, str]]:
    """The request's parsed, sorted query, cached on the request for as long as its URI is the same."""
    cached = getattr(request, "_txsync_query", None)
    if cached is not None and cached[0] == request.uri:
        parsed: list[tuple[str, str]] = cached[1]
        return parsed
    parsed = sorted(parse_qsl(urlsplit(request.uri).query, keep_blank_values=True))
    request._txsync_query = (request.uri, parsed)
    return parsed


def _match_query(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the same query parameters, in any order (blank values count)."""
    q1, q2 = _query_of(r1), _query_of(r2)
    if q1 != q2:
        raise AssertionError(f"{q1} != {q2}")


def _body_bytes(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return None


def _match_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: equal (scrubbed) bodies; only when the bytes differ are they parsed (JSON and
    form bodies compare by content)."""
    b1, b2 = _body_bytes(r1.body), _body_bytes(r2.body)
    if b1 is not None and b2 is not None and (b1 or b"") == (b2 or b""):
        return
    vcr.matchers.body(r1, r2)


class _RepeatingVCR(vcr.VCR):  # type: ignore[misc]
    """A ``vcr.VCR`` whose cassettes allow playback repeats unless told otherwise."""

    def get_merged_config(self, **kwargs: Any) -> Any:
        kwargs.setdefault("allow_playback_repeats", True)
        return super().get_merged_config(**kwargs)


def cassette_vcr(
    cassette_dir: str | os.PathLike[str],
    record_mode: str | None = None,
    *,
    secrets: Iterable[str] = (),
    scrub_headers: Iterable[str] = (),
    scrub_params: Iterable[str] = (),
    drop_response_headers: Iterable[str] = (),
) -> Any:
    """A ``vcr.VCR`` configured for txsync cassettes in ``cassette_dir``.

    ``record_mode`` defaults to ``"none"`` (replay only: an unmatched request raises
    ``vcr.errors.CannotOverwriteExistingCassetteException``) unless :data:`RECORD_ENV` asks to
    record, then ``"new_episodes"``. ``secrets`` are removed everywhere; ``scrub_headers`` and
    ``scrub_params`` (query and body fields) are added to the defaults. The returned object's
    ``use_cassette(name)`` allows playback repeats by default. The scrubber is available as
    ``.txsync_scrubber``.
    """
    if record_mode is None:
        record_mode = "none" if record_source() is RecordSource.REPLAY else "new_episodes"
    scrubber = Scrubber(
        secrets=secrets,
        headers=scrub_headers,
        params=scrub_params,
        drop_response_headers=drop_response_headers,
    )
    config = _RepeatingVCR(
        cassette_library_dir=os.fspath(cassette_dir),
        record_mode=record_mode,
        match_on=MATCH_ON,
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
        serializer="txsync-yaml",
    )
    config.register_serializer("txsync-yaml", ReadableYaml)
    # vcrpy's own query matcher parses both queries on every comparison; this one caches them.
    config.register_matcher("query", _match_query)
    config.register_matcher("body", _match_body)
    config.txsync_scrubber = scrubber
    return config


# -- leak scanning ----------------------------------------------------------------------------------


def iter_cassette_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Every cassette file under ``root`` (a directory, searched recursively, or one file)."""
    path = Path(root)
    if path.is_file():
        yield path
        return
    for found in sorted(path.rglob("*")):
        if found.is_file() and found.suffix.lower() in CASSETTE_SUFFIXES:
            yield found


def _looks_signed(value: str) -> bool:
    return bool(_HEX64.search(value))


def _interactions(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("interactions"), list):
        return [i for i in document["interactions"] if isinstance(i, dict)]
    return []


def _unscrubbed_body_fields(body: str, names: Scrubber) -> list[str]:
    """Names of the scrubbed fields of a form or JSON request body that still hold a value."""
    try:
        document = jsonutil.loads(body)
    except BadResponseError:
        return [
            name
            for name, value in parse_qsl(body, keep_blank_values=True)
            if names.scrubs_param(name) and value != PLACEHOLDER
        ]
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and names.scrubs_param(key) and item != PLACEHOLDER:
                    found.append(key)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return found


def find_cassette_leaks(
    root: str | os.PathLike[str],
    secrets: Sequence[str],
    *,
    scrub_headers: Iterable[str] = (),
    scrub_params: Iterable[str] = (),
) -> list[str]:
    """Problems found in the cassettes under ``root``; an empty list means they are clean.

    Reported, without ever quoting the secret itself: a secret (raw, URL-encoded or base64) anywhere
    in a file; a scrubbed query parameter, body field or request header whose value is not
    :data:`PLACEHOLDER`; a request header holding a 64-hex-digit value (an unscrubbed signature).
    """
    names = Scrubber(headers=scrub_headers, params=scrub_params)
    problems: list[str] = []
    for path in iter_cassette_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        decoded = unquote_plus(text)
        for index, secret in enumerate(secrets):
            if not secret or len(secret) < _MIN_SECRET:
                continue
            if any(v in text for v in _variants(secret)) or secret in decoded:
                problems.append(f"{path}: contains secret #{index + 1} of the test credential")
        try:
            document = ReadableYaml.deserialize(text)
        except yaml.YAMLError:
            problems.append(f"{path}: is not valid YAML")
            continue
        for number, interaction in enumerate(_interactions(document), start=1):
            request = interaction.get("request") or {}
            where = f"{path}: interaction {number}"
            query = urlsplit(str(request.get("uri", ""))).query
            for name, value in parse_qsl(query, keep_blank_values=True):
                if names.scrubs_param(name) and value != PLACEHOLDER:
                    hint = " (a 64-hex signature)" if _looks_signed(value) else ""
                    problems.append(f"{where}: query parameter {name!r} is not scrubbed{hint}")
            body = request.get("body")
            if isinstance(body, str) and body:
                for name in _unscrubbed_body_fields(body, names):
                    problems.append(f"{where}: body field {name!r} is not scrubbed")
            headers = request.get("headers") or {}
            if isinstance(headers, dict):
                for name, values in headers.items():
                    listed = values if isinstance(values, list) else [values]
                    for value in (str(v) for v in listed):
                        if names.scrubs_header(str(name)) and value != PLACEHOLDER:
                            problems.append(f"{where}: request header {name!r} is not scrubbed")
                        elif _looks_signed(value):
                            problems.append(
                                f"{where}: request header {name!r} holds a 64-hex value (a signature?): "
                                "list it in the connector's scrubbed headers"
                            )
    return problems

