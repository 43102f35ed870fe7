"""Where an import's bytes come from: a path (a plain file, a .zip, a .tar / .tar.gz, a .gz / .bz2 / .xz)
or content held in memory, read as streams with every safety limit enforced while reading.

* A path that is not a regular file (``/dev/zero``, a pipe, a directory) is refused before a byte is
  read: :class:`~txsync.errors.FileLimitError` or :class:`~txsync.errors.ConfigurationError`.
* Every byte read is counted: a file that grows while it is read, an archive whose members expand to
  more than :attr:`ImportLimits.max_bytes` in all, or a member that expands more than
  :attr:`ImportLimits.max_ratio` times its compressed size stops with :class:`FileLimitError` as soon
  as the limit is crossed, whatever the archive's headers claim.
* Nothing is read whole into memory: archives are read member by member, compressed data as it is
  decompressed, text as it is decoded.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO

from txsync.errors import ConfigurationError, FileImportError, FileLimitError
from txsync.imports.limits import ImportLimits

__all__ = ["Source", "iter_sources"]

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP = b"\x1f\x8b"
_BZ2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, lzma.LZMAError, tarfile.TarError, OSError,
                NotImplementedError, RuntimeError)


class _Budget:
    """The bytes one import may still read (all members of an archive together)."""

    def __init__(self, limits: ImportLimits, name: str) -> None:
        self.limits = limits
        self.name = name
        self.read = 0

    def take(self, count: int) -> None:
        self.read += count
        if self.read > self.limits.max_bytes:
            raise FileLimitError(
                f"more than {self.limits.max_bytes} bytes to read (the file or what it expands to): "
                "split it, or raise the import option 'max_bytes'",
                source=self.name,
            )


class _Capped(io.RawIOBase):
    """A readable stream that counts what it passes on against the budget and a compression ratio."""

    def __init__(self, inner: IO[bytes], name: str, budget: _Budget,
                 compressed: Callable[[], int] | None = None) -> None:
        super().__init__()
        self._inner = inner
        self._name = name
        self._budget = budget
        self._compressed = compressed
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._inner.read(len(view))
        except FileImportError:
            raise
        except _READ_ERRORS as exc:
            raise FileImportError(f"cannot be read: {type(exc).__name__}: {exc}", source=self._name) from None
        count = len(data)
        view[:count] = data
        self.count += count
        self._budget.take(count)
        limits = self._budget.limits
        if self._compressed is not None and self.count > limits.ratio_floor:
            packed = max(self._compressed(), 1)
            if self.count > limits.max_ratio * packed:
                raise FileLimitError(
                    f"expands more than {limits.max_ratio} times its compressed size ({packed} bytes): "
                    "refused as a probable archive bomb (raise the import option 'max_ratio' if it is not)",
                    source=self._name,
                )
        return count


class _Counting(io.RawIOBase):
    """Counts the compressed bytes a decompressor consumed (for the ratio check)."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        view[: len(data)] = data
        self.count += len(data)
        return len(data)


@dataclass
class Source:
    """One file to read: a CSV text stream, or an Excel workbook (``kind == "xlsx"``).

    ``name`` is what errors call it (the file name, ``archive.zip/member.csv``...). ``binary`` is the
    (limited) byte stream of a CSV source; ``workbook`` the seekable file of an xlsx source.
    """

    name: str
    kind: Literal["csv", "xlsx"]
    binary: BinaryIO | None = None
    workbook: BinaryIO | None = None
    limits: ImportLimits = field(default_factory=ImportLimits)
    in_memory_text: str | None = None

    def binary_reader(self) -> Any:
        """The CSV source's bytes as an ``io.BufferedReader`` (``None`` for in-memory text)."""
        if self.in_memory_text is not None:
            return None
        assert self.binary is not None
        if not isinstance(self.binary, io.BufferedReader):
            self.binary = io.BufferedReader(_Counting(self.binary))
        return self.binary

    def text(self) -> TextIO:
        """The CSV source as text: UTF-8 (with or without a BOM) or UTF-16 with a BOM, decoded lazily."""
        if self.in_memory_text is not None:
            return io.StringIO(self.in_memory_text.removeprefix("\ufeff"), newline="")
        buffered = self.binary_reader()
        assert buffered is not None
        head = buffered.peek(4)[:4]
        encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
        return io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")


def _is_csv(filename: str) -> bool:
    base = filename.rsplit("/", 1)[-1]
    return base.lower().endswith(".csv") and not base.startswith(".") and "__MACOSX" not in filename


def _open_path(path: Path, name: str, limits: ImportLimits) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file within the size limit (never blocks on a pipe)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigurationError(f"file not found: {name}") from None
    except IsADirectoryError:
        raise ConfigurationError(f"path is a directory, not a file: {name}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot open {name}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigurationError(f"path is a directory, not a file: {name}")
        if not stat.S_ISREG(info.st_mode):
            raise FileLimitError("is not a regular file (a device, a pipe or a socket): give the path "
                                 "of a file", source=name)
        if info.st_size > limits.max_bytes:
            raise FileLimitError(f"{info.st_size} bytes is more than the {limits.max_bytes} bytes an "
                                 "import reads (raise the import option 'max_bytes' to read it)", source=name)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def _head(stream: BinaryIO, size: int = 512) -> bytes:
    position = stream.tell()
    data = stream.read(size)
    stream.seek(position)
    return data


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _is_xlsx(archive: zipfile.ZipFile) -> bool:
    names = set(archive.namelist())
    return "[Content_Types].xml" in names and any(n.startswith("xl/workbook") for n in names)


def iter_sources(
    options: Mapping[str, Any],
    limits: ImportLimits,
    *,
    label: str,
    text_name: str,
    xlsx: bool = False,
) -> Iterator[Source]:
    """The sources a connection's options name, one at a time, each valid until the next is asked for.

    ``options["path"]``: a CSV file; a .zip, .tar, .tar.gz / .tgz / .tar.bz2 / .tar.xz archive of
    CSV files; a CSV compressed with gzip, bzip2 or xz; or (when ``xlsx``) an Excel workbook.
    ``options["text"]``: the content itself (``str``, or ``bytes`` read like a file), named
    ``options.get("name", text_name)`` in errors. ``label`` names the importer in configuration errors.
    """
    path, text = options.get("path"), options.get("text")
    if (path is None) == (text is None):
        raise ConfigurationError(
            f"{label} needs exactly one of the options 'path' (the downloaded file) or 'text' (its content)"
        )
    with ExitStack() as stack:
        if text is not None:
            name = options.get("name") or text_name
            if not isinstance(name, str):
                raise ConfigurationError(f"{label} option 'name' must be a string")
            if isinstance(text, str):
                if len(text) > limits.max_bytes:
                    raise FileLimitError(f"{len(text)} characters is more than the {limits.max_bytes} an "
                                         "import reads", source=name)
                yield Source(name, "csv", limits=limits, in_memory_text=text)
                return
            if not isinstance(text, (bytes, bytearray)):
                raise ConfigurationError(f"{label} option 'text' must be a string or bytes")
            if len(text) > limits.max_bytes:
                raise FileLimitError(f"{len(text)} bytes is more than the {limits.max_bytes} an import reads",
                                     source=name)
            raw: BinaryIO = io.BytesIO(bytes(text))
            total = len(text)
        else:
            if not isinstance(path, (str, os.PathLike)):
                raise ConfigurationError(f"{label} option 'path' must be a file path")
            file = Path(path)
            name = file.name or str(file)
            raw = stack.enter_context(_open_path(file, name, limits))
            total = os.fstat(raw.fileno()).st_size
        budget = _Budget(limits, name)
        yield from _unpack(raw, name, total, budget, limits, stack, xlsx=xlsx)


def _unpack(raw: BinaryIO, name: str, total: int, budget: _Budget, limits: ImportLimits, stack: ExitStack,
            *, xlsx: bool) -> Iterator[Source]:
    head = _head(raw)
    if head[:4] in _ZIP:
        yield from _zip(raw, name, total, budget, limits, stack, xlsx=xlsx)
        return
    openers: tuple[tuple[bytes, Callable[[IO[bytes]], Any]], ...] = (
        (_GZIP, lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
        (_BZ2, lambda f: bz2.BZ2File(f, "rb")),
        (_XZ, lambda f: lzma.LZMAFile(f, "rb")),  # noqa: SIM115 - entered into the ExitStack below
    )
    for magic, opener in openers:
        if head.startswith(magic):
            counting = _Counting(raw)
            try:
                decompressed = stack.enter_context(opener(io.BufferedReader(counting)))
            except _READ_ERRORS as exc:
                raise FileImportError(f"not a readable compressed file ({exc})", source=name) from None
            capped = io.BufferedReader(_Capped(decompressed, name, budget, _counter(counting)))
            try:
                inner_head = capped.peek(512)[:512]
            except FileImportError:
                raise
            inner = name.rsplit(".", 1)[0] if "." in name else name
            if _is_tar(inner_head):
                yield from _tar(capped, name, limits)
            else:
                yield Source(inner, "csv", binary=capped, limits=limits)
            return
    if _is_tar(head):
        yield from _tar(io.BufferedReader(_Capped(raw, name, budget)), name, limits)
        return
    yield Source(name, "csv", binary=io.BufferedReader(_Capped(raw, name, budget)), limits=limits)


def _zip(raw: BinaryIO, name: str, total: int, budget: _Budget, limits: ImportLimits, stack: ExitStack,
         *, xlsx: bool) -> Iterator[Source]:
    try:
        archive = stack.enter_context(zipfile.ZipFile(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileImportError(f"not a readable zip archive ({exc})", source=name) from None
    if len(infos) > limits.max_members:
        raise FileLimitError(f"the archive holds {len(infos)} files, more than the {limits.max_members} "
                             "an import reads", source=name)
    if _is_xlsx(archive):
        if not xlsx:
            raise FileImportError("is an Excel workbook: this importer reads CSV files (save the sheet as "
                                  "CSV, or use the txsync template, which reads .xlsx)", source=name)
        from txsync.imports.xlsx import check_workbook

        check_workbook(archive, name, budget, limits, total)
        raw.seek(0)
        yield Source(name, "xlsx", workbook=raw, limits=limits)
        return
    members = sorted((i for i in infos if not i.is_dir() and _is_csv(i.filename)), key=lambda i: i.filename)
    if not members:
        raise FileImportError("the archive holds no .csv file", source=name)
    for info in members:
        member_name = f"{name}/{info.filename}"
        try:
            handle = archive.open(info)
        except _READ_ERRORS as exc:
            raise FileImportError(f"cannot be read from the archive ({exc})", source=member_name) from None
        with handle:
            capped = _Capped(handle, member_name, budget, _constant(max(1, min(info.compress_size, total))))
            yield Source(member_name, "csv", binary=io.BufferedReader(capped), limits=limits)


def _constant(value: int) -> Callable[[], int]:
    return lambda: value


def _counter(counting: _Counting) -> Callable[[], int]:
    return lambda: counting.count


def _tar(stream: IO[bytes], name: str, limits: ImportLimits) -> Iterator[Source]:
    found = 0
    seen = 0
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed by the with below
    except tarfile.TarError as exc:
        raise FileImportError(f"not a readable tar archive ({exc})", source=name) from None
    with archive:
        try:
            for member in archive:
                seen += 1
                if seen > limits.max_members:
                    raise FileLimitError(f"the archive holds more than the {limits.max_members} files an "
                                         "import reads", source=name)
                if not member.isfile() or not _is_csv(member.name):
                    continue
                handle = archive.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    continue
                found += 1
                # A member of a streamed tar cannot seek: hand it on as a plain stream.
                yield Source(f"{name}/{member.name}", "csv", binary=io.BufferedReader(_Counting(handle)),
                             limits=limits)
        except tarfile.TarError as exc:
            raise FileImportError(f"not a readable tar archive ({exc})", source=name) from None
    if not found:
        raise FileImportError("the archive holds no .csv file", source=name)
