"""The redaction core: SecretSet never shows what it holds, errors are redacted when they are built,
and scrub_exception cleans a whole chain (messages, notes, attributes, httpx requests, frame locals)."""

from __future__ import annotations

import copy
import logging
import pickle

import httpx
import pytest

from txsync._redaction import LIVE, SecretRegistry, redact_live
from txsync.errors import AuthError, BadResponseError, ConfigurationError, TxsyncError
from txsync.http import SecretSet, install_log_redaction, redact, scrub_exception

KEY = "k3y-Sentinel/with+odd=chars\"q"
SECRET = "s3cret-Sentinel-7a1b2c3d"


def test_a_secret_set_never_shows_its_values() -> None:
    held = SecretSet([KEY, SECRET, "", KEY])
    assert len(held) == 2 and held
    for text in (repr(held), str(held), f"{held}", format(held, ">40")):
        assert KEY not in text and SECRET not in text and "2 hidden" in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(held)
    with pytest.raises(TypeError, match="not iterable"):
        list(held)  # type: ignore[call-overload]
    assert copy.copy(held) is held and copy.deepcopy({"x": held})["x"] is held
    assert not SecretSet([""])


def test_every_wire_form_of_a_secret_is_masked() -> None:
    held = SecretSet([KEY])
    url_encoded = "k3y-Sentinel%2Fwith%2Bodd%3Dchars%22q"
    json_escaped = 'k3y-Sentinel/with+odd=chars\\"q'
    text = f"raw {KEY} url {url_encoded} json {json_escaped}"
    assert held.redact(text) == "raw *** url *** json ***"
    assert held.found_in(text) and held.found_in(url_encoded.encode()) and not held.found_in("nothing")


def test_the_registry_counts_owners() -> None:
    registry = SecretRegistry()
    registry.add([SECRET])
    registry.add(SecretSet([SECRET]))
    registry.remove([SECRET])
    assert registry.values() == (SECRET,)
    registry.remove([SECRET])
    assert registry.values() == () and SECRET not in repr(registry)
    with registry.holding(SecretSet([KEY])):
        assert registry.snapshot().found_in(KEY)
    assert not registry.snapshot()


def test_errors_built_while_a_secret_is_live_are_redacted() -> None:
    with LIVE.holding(SecretSet([SECRET])):
        plain = ConfigurationError(f"cannot use {SECRET}")
        coded = AuthError(f"refused: key {SECRET}", endpoint=f"/x/{SECRET}", code=f"E{SECRET}")
        assert redact_live(SECRET) == "***"
    assert str(plain) == "cannot use ***" and plain.args == ("cannot use ***",)
    assert SECRET not in str(coded) and SECRET not in repr(coded)
    assert coded.endpoint == "/x/***" and coded.code == "E***"
    # nothing live: the text is kept, except values that look sensitive whatever they are
    later = TxsyncError(f"late {SECRET} GET /x?signature=abc123")
    assert str(later) == f"late {SECRET} GET /x?signature=***"


def test_scrub_cleans_the_whole_chain() -> None:
    request = httpx.Request("GET", f"https://api.test/v1?apikey={SECRET}", headers={"X-Key": SECRET})
    transport = httpx.ConnectError(f"cannot reach {request.url}", request=request)
    group = ExceptionGroup("several", [ValueError(f"inner {SECRET}"), OSError(2, "missing", f"/data/{SECRET}")])
    try:
        try:
            try:
                raise transport
            except httpx.ConnectError as exc:
                raise group from exc
        except ExceptionGroup:
            error = BadResponseError("outer")
            error.add_note(f"note {SECRET}")
            error.detail = {"echo": [SECRET]}  # type: ignore[attr-defined]
            raise error  # noqa: B904 - its context is what is scrubbed
    except BadResponseError as caught:
        outer = caught
    assert scrub_exception(outer, SecretSet([SECRET]), clear_frames=True) is outer
    seen = []
    current: BaseException | None = outer
    while current is not None:
        seen.append(current)
        current = current.__context__ or current.__cause__
    seen += list(group.exceptions)
    texts = [str(e) + repr(e.args) + repr(vars(e)) + str(getattr(e, "__notes__", "")) for e in seen]
    texts += [str(group.exceptions[1].filename)]
    assert all(SECRET not in text for text in texts), texts
    with pytest.raises(RuntimeError):
        transport.request  # noqa: B018 - the request (signed URL, key header) was dropped
    assert outer.detail == {"echo": ["***"]}  # type: ignore[attr-defined]
    frame = outer.__traceback__.tb_frame if outer.__traceback__ else None
    assert frame is not None  # the catching frame itself is running: only finished frames are cleared


def test_clear_frames_empties_finished_frames() -> None:
    def deep(secret: str) -> None:
        plaintext = secret  # noqa: F841 - a local an error tracker would capture
        raise ValueError("boom")

    try:
        deep(SECRET)
    except ValueError as exc:
        caught = exc
    tb = caught.__traceback__
    assert tb is not None and tb.tb_next is not None
    assert tb.tb_next.tb_frame.f_locals["plaintext"] == SECRET
    scrub_exception(caught, clear_frames=True)
    assert tb.tb_next.tb_frame.f_locals == {}


def test_log_redaction_covers_httpcore_and_every_txsync_logger(caplog: pytest.LogCaptureFixture) -> None:
    import txsync.engine  # noqa: F401 - its logger exists before the install, as in a host

    logging.getLogger("txsync.connectors.some_plugin")
    shared = install_log_redaction()
    for name in ("httpx", "httpcore.http11", "httpcore.connection", "txsync.engine", "txsync.connectors.some_plugin"):
        assert shared in logging.getLogger(name).filters, name
    caplog.set_level(logging.DEBUG)
    with LIVE.holding(SecretSet([SECRET])):
        logging.getLogger("httpcore.http11").debug("receive_response_headers %s", [(b"X-Echo", SECRET.encode())])
        logging.getLogger("txsync.engine").warning("echo %s", SECRET, extra={"detail": SECRET})
    assert SECRET not in caplog.text
    assert all(SECRET not in str(vars(record)) for record in caplog.records)


def test_redact_accepts_a_secret_set_or_plain_values() -> None:
    assert redact(f"a {SECRET}", SecretSet([SECRET])) == redact(f"a {SECRET}", [SECRET]) == "a ***"
