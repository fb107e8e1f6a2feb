"""Server-side S3 -> S3 copies: CopyObject, or UploadPartCopy in parts, so no content crosses the client.

The engine (`TransferEngine._start`) hands an object here when both sides are S3 on the same service (the
same endpoint URL and region; on AWS any two regions of one partition). Everything else is as for a
streamed copy: the destination options (storage class, SSE) apply; the object gets the source's user
metadata and content headers (MetadataDirective REPLACE) with our `x-amz-meta-mtime` (the source's logical
mtime) and, in parts, `x-amz-meta-migrate-part-size`; the transfer state records the same signatures.

Which request:
- a multipart source whose part boundaries are known (declared in x-amz-meta-migrate-part-size, else
  guessed from its size and part count) is copied in the same parts, so its composite SHA-256 or its
  MD5-of-MD5s ETag can be compared with the copy's;
- otherwise one CopyObject up to the multipart threshold, or up to 5 GiB when the source has a single-part
  checksum (SHA-256 or MD5 ETag) that only a single-part copy keeps comparable;
- otherwise parts of `choose_part_size`.
Integrity: the copy asks for ChecksumAlgorithm=SHA256 and the destination's checksum (or MD5 ETag) is
compared with the source's. A mismatch is an IntegrityError (the bad copy is removed, the copy retried);
boundaries that were only guessed can confirm a copy but never fail one; nothing comparable: unverified.
Multipart copies are journalled like uploads (state.UploadJournal), so a killed run's upload is resumed or
aborted by the next. Returns False (the engine streams the object) for archived sources and, for the rest
of the run, once the server answers NotImplemented to a copy.
"""

from __future__ import annotations

import binascii
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

from migrate_cli.transfer.checksums import (
    MAX_OBJECT_SIZE,
    MIN_PART_SIZE,
    MTIME_META,
    PART_SIZE_META,
    Expected,
    choose_part_size,
    clean_etag,
    composite_sha256,
    etag_is_md5,
    etag_parts,
    guess_part_size,
    multipart_etag,
    part_count,
    unb64,
)
from migrate_cli.transfer.plan import CopyItem
from migrate_cli.transfer.retry import FILE_ATTEMPTS, IntegrityError, PermanentError, TransferError, TransientError
from migrate_cli.transfer.s3 import ARCHIVED, CHECKSUM_MODE, S3Store, completion_lost, expected_from
from migrate_cli.transfer.s3http import Reply, S3HttpError, raise_for_reply
from migrate_cli.transfer.sources import Entry, PartDone, WriteInfo

if TYPE_CHECKING:
    from migrate_cli.transfer.engine import TransferEngine
    from migrate_cli.transfer.state import UploadJournal

# kept from the source besides its user metadata (Content-Type goes through WriteInfo)
CONTENT_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
REFUSED_CODES = frozenset({"NotImplemented"})
ARCHIVE_CODES = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})


class Refused(PermanentError):
    """The server will not copy this object server-side: it is streamed instead (`run_wide`: every object)."""

    def __init__(self, message: str, run_wide: bool) -> None:
        super().__init__(message)
        self.run_wide = run_wide


def same_service(source: S3Store, dest: S3Store) -> bool:
    """Whether `dest`'s endpoint can copy from `source` server-side (both are built from one environment,
    so the same credentials): the same endpoint URL and region, or AWS S3 endpoints of one partition."""
    a, b = source.endpoint, dest.endpoint
    if _on_aws(a.url) or _on_aws(b.url):
        return _on_aws(a.url) and _on_aws(b.url) and _partition(a.region) == _partition(b.region)
    return a.url.rstrip("/") == b.url.rstrip("/") and a.region == b.region


def _on_aws(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower().endswith((".amazonaws.com", ".amazonaws.com.cn"))


def _partition(region: str | None) -> str:
    region = region or "us-east-1"
    for prefix in ("cn-", "us-gov-", "us-isob-", "us-iso-", "eu-isoe-"):
        if region.startswith(prefix):
            return prefix
    return "aws"


def compare(src: Expected | None, dst: Expected, same_parts: bool, declared: bool) -> bool | None:
    """A copy's stored digest against its source's: True, False (a mismatch that proves a bad copy), or None
    (nothing comparable, or a mismatch over part boundaries that were only guessed)."""
    if src is None:
        return None
    for check in (_by_sha256, _by_etag):
        verdict = check(src, dst, same_parts)
        if verdict is None:
            continue
        matches, whole = verdict
        if matches:
            return True
        return False if whole or declared else None
    return None


def _by_sha256(src: Expected, dst: Expected, same_parts: bool) -> tuple[bool, bool] | None:
    """(matches, compared without part boundaries) on SHA-256, or None when not comparable."""
    if not (src.sha256 and dst.sha256):
        return None
    if src.parts == 0 and dst.parts == 0:
        return src.sha256 == dst.sha256, True
    if src.parts == 1 and dst.parts == 0:  # a one-part composite is the SHA-256 of the whole's SHA-256
        try:
            return composite_sha256([unb64(dst.sha256)]) == src.sha256, True
        except (binascii.Error, ValueError):
            return None
    if src.parts and dst.parts == src.parts and same_parts:
        return src.sha256 == dst.sha256, False
    return None


def _by_etag(src: Expected, dst: Expected, same_parts: bool) -> tuple[bool, bool] | None:
    """(matches, compared without part boundaries) on MD5 ETags, or None when not comparable."""
    if not (src.md5_etag and dst.md5_etag):
        return None
    s, d = clean_etag(src.md5_etag), clean_etag(dst.md5_etag)
    if etag_parts(s) == 0 and etag_parts(d) == 0:
        return s == d, True
    if etag_parts(s) == 1 and etag_parts(d) == 0:
        return multipart_etag([bytes.fromhex(d)]) == s, True
    if etag_parts(s) and etag_parts(d) == etag_parts(s) and same_parts:
        return s == d, False
    return None


@dataclass(frozen=True)
class Scheme:
    """How one object is copied: `part_size` 0 is one CopyObject."""

    part_size: int
    source_parts: bool = False  # in the source's own part boundaries (its composite / ETag stays comparable)
    declared: bool = False  # those boundaries are the source's declared ones, not a guess


@dataclass
class _Job:
    """One multipart copy in flight."""

    item: CopyItem
    src_sig: str
    scheme: Scheme
    count: int
    journal: UploadJournal
    attempt: int
    upload_id: str = ""
    parts: dict[int, PartDone] = field(default_factory=dict)
    outstanding: int = 0
    error: TransferError | None = None
    reported: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ServerSideCopy:
    """Server-side copies for one engine run (see the module docstring)."""

    def __init__(self, engine: TransferEngine, source: S3Store, dest: S3Store) -> None:
        self.engine = engine
        self.source = source
        self.dest = dest
        self.refused = ""  # why the server will not copy: the rest of the run streams
        self._streamed: set[str] = set()  # keys refused one by one (archived)

    @classmethod
    def between(cls, engine: TransferEngine) -> ServerSideCopy | None:
        """A copier when the engine's two stores allow server-side copies, else None."""
        source, dest = engine.source, engine.dest
        if isinstance(source, S3Store) and isinstance(dest, S3Store) and same_service(source, dest):
            return cls(engine, source, dest)
        return None

    def start(self, item: CopyItem, attempt: int) -> bool:
        """Copy `item` server-side (a multipart copy is started here and finished by the engine's pool).
        False: it must be streamed instead. Raises TransferError when the copy failed."""
        entry = item.source
        if self.refused or entry.storage_class in ARCHIVED or item.key in self._streamed:
            return False
        try:
            headers = self.engine._retry(item.key, lambda: self._head(entry))
            scheme = self.scheme(entry, headers)
            if scheme.part_size:
                self._begin_parts(item, headers, scheme, attempt)
            else:
                self._single(item, headers)
        except Refused as exc:
            self._refuse(item.key, exc)
            return False
        return True

    def scheme(self, entry: Entry, headers: dict[str, str]) -> Scheme:
        """CopyObject or parts, and which parts (see the module docstring)."""
        exp = entry.expected or Expected()
        size = entry.size
        count = exp.parts if exp.sha256 else etag_parts(exp.md5_etag or "")
        if count >= 2:
            part_size = exp.part_size or guess_part_size(size, count)
            if part_size and part_size >= MIN_PART_SIZE and part_count(size, part_size) == count:
                declared = headers.get(f"x-amz-meta-{PART_SIZE_META}") == str(part_size)
                return Scheme(part_size, source_parts=True, declared=declared)
        single_checksum = (exp.sha256 and exp.parts <= 1) or (
            exp.md5_etag and etag_parts(exp.md5_etag) <= 1 and self.dest.sse != "aws:kms"
        )
        limit = MAX_OBJECT_SIZE if single_checksum else min(self.engine.options.multipart_threshold, MAX_OBJECT_SIZE)
        if size <= limit:
            return Scheme(0)
        return Scheme(choose_part_size(size, self.engine.options.part_size))

    # --- requests ----------------------------------------------------------------------------------

    def _head(self, entry: Entry) -> dict[str, str]:
        """HEAD the source: its metadata, stored checksum and ETag (the copy is made of exactly that version)."""
        headers = self.source.head(entry)
        if headers.get("x-amz-storage-class") in ARCHIVED:
            entry.storage_class = headers["x-amz-storage-class"]
            raise Refused(f"{self.source.url}{entry.key} is archived", run_wide=False)
        return headers

    def _headers(self, entry: Entry, source_headers: dict[str, str], part_size: int) -> dict[str, str]:
        """The destination object's headers: the source's metadata and content headers, our mtime (and part
        size), the destination's storage class and SSE, SHA-256 checksums."""
        mtime_ns = self.source.logical_mtime_ns(entry) or int(entry.mtime * 1e9)
        info = WriteInfo(entry.key, entry.size, mtime_ns, source_headers.get("content-type"))
        headers = self.dest._object_headers(info)
        ours = {f"x-amz-meta-{MTIME_META}", f"x-amz-meta-{PART_SIZE_META}"}
        for name, value in source_headers.items():
            if (name.startswith("x-amz-meta-") and name not in ours) or name in CONTENT_HEADERS:
                headers[name] = value
        if part_size:
            headers[f"x-amz-meta-{PART_SIZE_META}"] = str(part_size)
        headers["x-amz-checksum-algorithm"] = "SHA256"
        return headers

    def _copy_source(self, entry: Entry) -> dict[str, str]:
        headers = {"x-amz-copy-source": f"{self.source.bucket}/{quote(self.source.prefix + entry.key, safe='/~')}"}
        if entry.etag:
            headers["x-amz-copy-source-if-match"] = f'"{entry.etag}"'
        return headers

    def _copy(self, entry: Entry, key: str, query: str, headers: dict[str, str], result: str) -> dict[str, str]:
        """One CopyObject / UploadPartCopy; the fields of its <`result`> (errors inside a 200 reply too)."""
        what = f"copy {self.source.url}{entry.key} to s3://{self.dest.bucket}/{key}"
        try:
            reply = self.dest.http.request(
                "PUT", self.dest.bucket, key, query=query, headers=headers, what=what, ok=(200, 501)
            )
        except S3HttpError as exc:
            if exc.code in REFUSED_CODES:
                raise Refused(f"{what}: {exc.code}", run_wide=True) from exc
            if exc.code in ARCHIVE_CODES:
                raise Refused(f"{what}: {exc.code}", run_wide=False) from exc
            if exc.status == 412:
                raise PermanentError(f"{self.source.url}{entry.key} changed during the copy") from exc
            raise
        if reply.status == 501:
            raise Refused(f"{what}: HTTP 501 NotImplemented", run_wide=True)
        return _result(reply, result, what)

    def _dest_expected(self, key: str, size: int, sse: str, etag: str, sha256: str | None, part_size: int) -> Expected:
        """What the copy stored, from the copy's reply; HEAD it when the reply has no checksum."""
        if not sha256:
            reply = self.dest.http.request("HEAD", self.dest.bucket, key, headers=dict(CHECKSUM_MODE), ok=(200,))
            return expected_from(reply.headers, size)
        headers = {"etag": etag, "x-amz-checksum-sha256": sha256, "x-amz-server-side-encryption": sse}
        if part_size:
            headers[f"x-amz-meta-{PART_SIZE_META}"] = str(part_size)
        return expected_from(headers, size)

    def _mismatch(self, item: CopyItem) -> IntegrityError:
        """Remove a copy that does not match its source (the next sync would take it for up to date)."""
        failed = self.dest.delete([item.key])
        note = f" (and it could not be removed: {failed[0][1]})" if failed else ""
        return IntegrityError(f"{self.dest.url}{item.key}: the copy's checksum differs from the source's{note}")

    def _refuse(self, key: str, exc: Refused) -> None:
        if exc.run_wide:
            if not self.refused:
                self.engine.progress.note(f"server-side copy refused ({exc}): streaming through this client")
            self.refused = str(exc)
        else:
            self._streamed.add(key)

    def _finished(self, item: CopyItem, src_sig: str, etag: str, verified: bool | None) -> None:
        with self.engine._lock:
            self.engine.result.server_side += 1
        size = item.source.size
        self.engine._done(item.key, size, src_sig, f"{size}:{etag}", (verified,))

    # --- one request ---------------------------------------------------------------------------------

    def _single(self, item: CopyItem, source_headers: dict[str, str]) -> None:
        entry = item.source
        key = self.dest.prefix + item.key
        src_sig = self.source.sig(entry)
        headers = self._headers(entry, source_headers, 0)
        headers.update(self._copy_source(entry))
        headers["x-amz-metadata-directive"] = "REPLACE"

        def attempt() -> tuple[str, bool | None]:
            reply = self._copy(entry, key, "", headers, "CopyObjectResult")
            etag = clean_etag(reply.get("ETag") or reply.get("etag"))
            sha = reply.get("ChecksumSHA256") or reply.get("x-amz-checksum-sha256")
            sse = reply.get("x-amz-server-side-encryption", "")
            verified = compare(entry.expected, self._dest_expected(key, entry.size, sse, etag, sha, 0), False, True)
            if verified is False:
                raise self._mismatch(item)
            return etag, verified

        etag, verified = self.engine._retry(item.key, attempt)
        self.engine.progress.advance(0, entry.size)
        self._finished(item, src_sig, etag, verified)

    # --- in parts ------------------------------------------------------------------------------------

    def _begin_parts(self, item: CopyItem, source_headers: dict[str, str], scheme: Scheme, attempt: int) -> None:
        entry = item.source
        src_sig = self.source.sig(entry)
        count = part_count(entry.size, scheme.part_size)
        job = _Job(item, src_sig, scheme, count, self.engine.state.journal_for(src_sig), attempt)
        upload_id, done = self.engine._retry(
            item.key, lambda: job.journal.resume(self.dest, item.key, scheme.part_size)
        )
        if not upload_id:
            job.journal.intend(item.key, scheme.part_size)
            headers = self._headers(entry, source_headers, scheme.part_size)
            upload_id = self.engine._retry(item.key, _once_per_key(self.dest, item.key, headers, self._create))
            job.journal.started(item.key, upload_id)
        job.upload_id = upload_id
        job.parts = {n: p for n, p in done.items() if n <= count}
        if job.parts:
            resumed = sum(p.size for p in job.parts.values())
            with self.engine._lock:
                self.engine.result.resumed_parts += len(job.parts)
            self.engine.progress.note(f"resuming {item.key}: {len(job.parts)} of {count} parts already copied")
            job.reported += resumed
            self.engine.progress.advance(0, resumed)
        missing = [n for n in range(1, count + 1) if n not in job.parts]
        job.outstanding = len(missing)
        if not missing:
            self._finish(job)
            return
        self.engine._pool.submit_many([(self._part, (job, n)) for n in missing], front=True)

    def _create(self, key: str, headers: dict[str, str]) -> str:
        """CreateMultipartUpload with the destination object's headers; the upload id."""
        what = f"create multipart upload of s3://{self.dest.bucket}/{self.dest.prefix + key}"
        reply = self.dest.http.request(
            "POST", self.dest.bucket, self.dest.prefix + key, query="uploads", headers=headers, what=what, ok=(200,)
        )
        upload_id = _result(reply, "InitiateMultipartUploadResult", what).get("UploadId")
        if not upload_id:
            raise TransientError(f"{what}: no UploadId in the reply")
        return upload_id

    def _part(self, job: _Job, number: int) -> None:
        entry = job.item.source
        offset = (number - 1) * job.scheme.part_size
        length = min(job.scheme.part_size, entry.size - offset)
        key = self.dest.prefix + job.item.key
        headers = self._copy_source(entry)
        headers["x-amz-copy-source-range"] = f"bytes={offset}-{offset + length - 1}"
        query = f"partNumber={number}&uploadId={quote(job.upload_id, safe='-_.~')}"

        def attempt() -> PartDone:
            reply = self._copy(entry, key, query, headers, "CopyPartResult")
            etag = clean_etag(reply.get("ETag") or reply.get("etag"))
            sha = reply.get("ChecksumSHA256") or reply.get("x-amz-checksum-sha256") or ""
            md5 = bytes.fromhex(etag) if etag_is_md5(etag) else b""
            return PartDone(number, length, unb64(sha) if sha else b"", md5, etag)

        error: BaseException | None = None
        try:
            if self.refused and job.error is None:
                error = Refused(self.refused, run_wide=True)
            elif job.error is None and not self.engine._cancelled:
                done = self.engine._retry(job.item.key, attempt)
                job.journal.part_done(job.item.key, done)
                with job.lock:
                    job.parts[number] = done
                    job.reported += length
                self.engine.progress.advance(0, length)
        except Exception as exc:  # noqa: BLE001 - the job records it; the last part to end decides
            error = exc
        with job.lock:
            if error is not None and job.error is None:
                job.error = error if isinstance(error, TransferError) else PermanentError(f"{type(error).__name__}")
            job.outstanding -= 1
            last = job.outstanding == 0
        if not last or self.engine._cancelled:
            return  # cancelled: the upload stays recorded for the next run to resume
        if job.error is None:
            self._finish(job)
        else:
            self._give_up(job, restart=False)  # the part already used up its own retries

    def _finish(self, job: _Job) -> None:
        item, scheme = job.item, job.scheme
        entry = item.source
        key = self.dest.prefix + item.key
        parts = [job.parts[n] for n in range(1, job.count + 1)]
        try:
            exp = entry.expected
            shas = [p.sha256 for p in parts]
            if scheme.source_parts and all(shas):  # the parts' checksums came back (AWS): check before completing
                early = compare(exp, Expected(composite_sha256(shas), job.count), True, scheme.declared)
                if early is False:
                    raise IntegrityError(f"{self.dest.url}{item.key}: the copied parts differ from the source's")
            reply = self._complete(job, parts)
            job.journal.forget(item.key)
            etag = clean_etag(reply.get("ETag"))
            sse = reply.get("ServerSideEncryption") or ""
            stored = self._dest_expected(key, entry.size, sse, etag, reply.get("ChecksumSHA256"), scheme.part_size)
            verified = compare(exp, stored, scheme.source_parts, scheme.declared)
            if verified is False:
                raise self._mismatch(item)
        except Exception as exc:  # noqa: BLE001
            job.error = exc if isinstance(exc, TransferError) else PermanentError(f"{type(exc).__name__}: {exc}")
            self._give_up(job)
            return
        self._finished(item, job.src_sig, etag, verified)

    def _complete(self, job: _Job, parts: list[PartDone]) -> dict[str, Any]:
        try:
            return self.engine._retry(
                job.item.key, lambda: self.dest.complete_upload(job.item.key, job.upload_id, parts)
            )
        except PermanentError as exc:
            if completion_lost(exc):  # parts or upload gone: start this object again
                job.journal.forget(job.item.key)
                raise TransientError(f"completing {self.dest.url}{job.item.key}: {exc}") from exc
            raise

    def _give_up(self, job: _Job, restart: bool = True) -> None:
        """Abort the upload; stream the object when the server refused, start it again after a failed final
        check (at most FILE_ATTEMPTS times in all), else record the failure."""
        key = job.item.key
        error = job.error or PermanentError("failed")
        try:
            self.dest.abort_upload(key, job.upload_id)
        except TransferError as exc:
            self.engine.progress.note(f"could not abort the multipart copy of {key}: {exc}")
        job.journal.forget(key)
        self.engine.progress.advance(0, -job.reported)
        if isinstance(error, Refused):
            self._refuse(key, error)
            self.engine._submit(self.engine._start, job.item, job.attempt)
            return
        if restart and error.retryable and job.attempt < FILE_ATTEMPTS:
            self.engine._on_retry(key)(job.attempt, error)
            time.sleep(self.engine.options.backoff.delay(job.attempt))
            self.engine._submit(self.engine._start, job.item, job.attempt + 1)
            return
        self.engine._fail(key, error)


def _once_per_key(dest: S3Store, key: str, headers: dict[str, str], create: Any) -> Any:
    """CreateMultipartUpload for a retry loop: before trying again, abort what an attempt whose reply was
    lost may have created (the journal holds only the intent, so nothing else would)."""
    tried = False

    def attempt() -> str:
        nonlocal tried
        if tried:
            for upload_id in dest.uploads_for(key):
                dest.abort_upload(key, upload_id)
        tried = True
        return create(key, headers)

    return attempt


def _result(reply: Reply, tag: str, what: str) -> dict[str, str]:
    """The child elements of the reply's <tag> (plus its headers); an <Error> inside a 200 is raised."""
    try:
        root = ElementTree.fromstring(reply.body.strip()) if reply.body.strip() else None
    except ElementTree.ParseError as exc:
        raise TransientError(f"{what}: unreadable reply ({exc})") from exc
    if root is not None and root.tag.rpartition("}")[2] == "Error":
        raise_for_reply(Reply(500, reply.headers, reply.body), what)  # S3 reports late copy errors in a 200
    fields = dict(reply.headers)
    if root is not None and root.tag.rpartition("}")[2] == tag:
        fields.update({child.tag.rpartition("}")[2]: (child.text or "").strip() for child in root})
    return fields
