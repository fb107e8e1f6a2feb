"""The S3 store: any S3-compatible endpoint through the standard configuration (AWS_ENDPOINT_URL, profiles).

Writes: every object carries `x-amz-checksum-sha256` (every part of a multipart upload too, and the upload is
created with ChecksumAlgorithm=SHA256, so the object's checksum is S3's COMPOSITE of the part checksums),
the source mtime in `x-amz-meta-mtime` (nanosecond decimal seconds, as rclone writes it) and, for multipart,
the part size in `x-amz-meta-migrate-part-size` so readers can verify the composite. After each write the
server's answer is checked: the ETag must be the MD5 of what we sent (single part / each part / MD5-of-MD5s
for the whole; not with SSE-KMS, whose ETags are not MD5s) and any SHA-256 the server reports must be ours.
Reads: a whole-object GET is checked against the stored SHA-256 (or the ETag's MD5); ranged parts are
checked at the end through the composite. A mismatch raises IntegrityError, which the engine retries.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.transfer import s3control
from migrate_cli.transfer.checksums import (
    MTIME_META,
    PART_SIZE_META,
    Expected,
    StreamDigest,
    b64,
    clean_etag,
    composite_sha256,
    etag_is_md5,
    etag_parts,
    guess_part_size,
    multipart_etag,
    part_count,
)
from migrate_cli.transfer.location import Location
from migrate_cli.transfer.retry import (
    Backoff,
    IntegrityError,
    PermanentError,
    StartOver,
    TransferError,
    TransientError,
    with_retries,
)
from migrate_cli.transfer.s3endpoint import S3Endpoint, botocore_endpoint, lean_endpoint
from migrate_cli.transfer.s3http import (
    EMPTY_SHA256,
    RETRYABLE_CODES,
    UNSIGNED_PAYLOAD,
    Reply,
    S3Http,
    S3HttpError,
    raise_for_reply,
)
from migrate_cli.transfer.s3support import ChecksumSupport
from migrate_cli.transfer.sources import (
    Entry,
    Listing,
    PartDone,
    PartWriter,
    Payload,
    ReadResult,
    Store,
    WriteInfo,
    payload_length,
)

if TYPE_CHECKING:
    import boto3

STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")
SSE_MODES = ("AES256", "aws:kms")
CHECKSUM_MODE = {"x-amz-checksum-mode": "ENABLED"}  # a HEAD or GET that asks for the stored checksum
CONTROL_RETRIES = 8
LIST_WORKERS = 8
_clients: dict[tuple[str | None, tuple[tuple[str, str], ...]], tuple[boto3.Session, Any]] = {}
_clients_lock = threading.Lock()


def s3_client(region: str | None = None, max_pool: int = 64) -> tuple[boto3.Session, Any]:
    """(session, client) for S3 with transfer-friendly retries; cached per region and AWS environment."""
    from botocore.config import Config

    from migrate_cli.aws.session import client, make_session

    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    with _clients_lock:
        found = _clients.get((region, env))
        if found is None:
            session = make_session(region=region)
            config = Config(
                retries={"mode": "standard", "total_max_attempts": CONTROL_RETRIES},
                max_pool_connections=max_pool,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            found = (session, client("s3", session=session, config=config))
            _clients[(region, env)] = found
        return found


def validates_checksums(endpoint_url: str) -> bool:
    """Amazon S3 itself rejects a body that does not match its x-amz-checksum-sha256 (BadDigest), so the
    SHA-256 we send is verified by the server. Other S3-compatible servers may store it unchecked (moto,
    rclone serve s3 do): there the ETag (the server's MD5 of what it stored) is compared with ours."""
    host = urlsplit(endpoint_url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn")) and ".s3" in f".{host}"


def format_mtime(mtime_ns: int) -> str:
    return f"{mtime_ns // 1_000_000_000}.{mtime_ns % 1_000_000_000:09d}"


def parse_mtime(text: str | None) -> int | None:
    """x-amz-meta-mtime ('1700000000.123456789', as rclone writes it) -> ns; None when absent or garbled."""
    if not text:
        return None
    whole, _, frac = text.strip().partition(".")
    try:
        return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)
    except ValueError:
        return None


def expected_from(headers: dict[str, str], size: int) -> Expected:
    """What an object must hash to, from HEAD/GET reply headers."""
    etag = clean_etag(headers.get("etag"))
    kms = headers.get("x-amz-server-side-encryption", "").startswith("aws:kms") or bool(
        headers.get("x-amz-server-side-encryption-customer-algorithm")
    )
    checksum = headers.get("x-amz-checksum-sha256") or None
    declared = headers.get(f"x-amz-meta-{PART_SIZE_META}")
    part_size = int(declared) if declared and declared.isdigit() and int(declared) > 0 else None
    parts = 0
    if checksum and "-" in checksum:
        checksum, _, count = checksum.rpartition("-")
        parts = int(count) if count.isdigit() else 0
    elif checksum and (etag_parts(etag) or (part_size and size > part_size)):
        parts = etag_parts(etag) or part_count(size, part_size or size)  # composite reported without -N
    md5_etag = None if kms or not (etag_is_md5(etag) or etag_parts(etag)) else etag
    if part_size is None and md5_etag and etag_parts(md5_etag) and not checksum:
        part_size = guess_part_size(size, etag_parts(md5_etag))  # only ever confirms, see verify_digest
    return Expected(sha256=checksum, parts=parts, part_size=part_size, md5_etag=md5_etag)


def verify_digest(digest: StreamDigest, expected: Expected, declared: bool) -> bool | None:
    """True / None (nothing to check) / raise IntegrityError. A guessed part size never causes a failure."""
    result = digest.matches(expected)
    if result is False and not declared and (expected.parts or etag_parts(expected.md5_etag or "")):
        return None
    if result is False:
        raise IntegrityError("content does not match the stored checksum")
    return result


class S3Store(Store):
    kind = "s3"
    mtime_exact = False

    def __init__(
        self,
        location: Location,
        storage_class: str | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
    ) -> None:
        self.location = location
        self.bucket = location.bucket
        self.prefix = location.prefix
        self.storage_class = storage_class
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.backoff = Backoff.from_env()
        self.http = S3Http(self._resolve(None))
        region = self._bucket_region()
        if region and region != self.endpoint.region:
            self.http = S3Http(self._resolve(region))
        validated = validates_checksums(self.endpoint.url)
        self.wants_md5 = not validated and self._etag_is_md5()
        self.checksums = ChecksumSupport(validated)

    @property
    def hashes_while_sending(self) -> bool:
        """Writes need no digests up front: the server ignores x-amz-checksum-sha256 (see s3support.py),
        so put/write_part send unsigned payloads and hash the MD5 (the ETag check) as they send."""
        return not self.checksums.sends_sha256

    @property
    def endpoint(self) -> S3Endpoint:
        """Where this store's requests go, with which region and credentials."""
        return self.http.endpoint

    # --- setup -------------------------------------------------------------------------------------

    def _resolve(self, region: str | None) -> S3Endpoint:
        return lean_endpoint(self.bucket, region) or botocore_endpoint(region)

    def _bucket_region(self) -> str | None:
        """HeadBucket: ConfigError when the bucket does not exist; the bucket's region when it differs."""
        site = self.http.base(self.bucket)[0]
        try:
            reply = with_retries(
                lambda: self.http.request(
                    "HEAD", self.bucket, "", what=f"bucket '{self.bucket}'", ok=(200, 301, 307, 400, 403, 404)
                ),
                self.backoff,
            )
        except S3HttpError as exc:
            raise OperationFailed(f"bucket '{self.bucket}': {exc.code or exc.status}") from exc
        except TransientError as exc:
            if isinstance(exc.__cause__, OSError):  # refused, reset, timed out: no reply at all
                raise OperationFailed(f"cannot reach s3 endpoint {site} ({exc})") from exc
            raise OperationFailed(str(exc)) from exc
        region = reply.headers.get("x-amz-bucket-region")
        if reply.status == 404:
            raise ConfigError(f"bucket '{self.bucket}' does not exist (at {self.endpoint.url})")
        if reply.status == 400 and not region:
            raise OperationFailed(f"bucket '{self.bucket}': HTTP 400")
        return region  # 403: a prefix-scoped role may not HeadBucket; later calls say if access is denied

    def set_limiter(self, limiter: Any) -> None:
        self.limiter = limiter
        self.http.limiter = limiter

    def check_source(self) -> None:
        try:
            first = next(iter(self.http.list_objects(self.bucket, self.prefix)), None)
        except (S3HttpError, TransientError) as exc:
            raise OperationFailed(f"cannot list {self.url}: {exc}") from exc
        if first is None:
            raise ConfigError(f"source '{self.location.text}' has no objects (check the bucket and prefix)")

    def check_dest(self) -> None:
        return None  # the bucket exists (checked when opened); write errors are reported per object

    # --- listing and metadata ----------------------------------------------------------------------

    def list(self, follow_symlinks: bool = True) -> Listing:
        """Every object under the prefix. The first level is listed with a delimiter and each of its
        "directories" is then listed in parallel: ListObjectsV2 pages are sequential, directories are not."""
        out = Listing()
        cut = len(self.prefix)

        def add(rows: list[tuple[str, int, float, str, str]]) -> None:
            for key, size, modified, etag, storage_class in rows:
                if size < 0 or key.endswith("/"):
                    continue  # common prefixes, "directory" marker objects
                rel = key[cut:]
                out.entries[rel] = Entry(rel, size, modified, etag=etag, storage_class=storage_class)

        try:
            top = list(self.http.list_objects(self.bucket, self.prefix, delimiter="/"))
            add(top)
            prefixes = [row[0] for row in top if row[1] < 0]
            if prefixes:
                with ThreadPoolExecutor(max_workers=min(LIST_WORKERS, len(prefixes))) as pool:
                    for rows in pool.map(lambda p: list(self.http.list_objects(self.bucket, p)), prefixes):
                        add(rows)
        except (S3HttpError, TransientError) as exc:
            raise OperationFailed(f"cannot list {self.url}: {exc}") from exc
        return out

    def sig(self, entry: Entry) -> str:
        return f"{entry.size}:{clean_etag(entry.etag)}"

    def stat(self, entry: Entry) -> Entry:
        self.head(entry)
        return entry

    def head(self, entry: Entry) -> dict[str, str]:
        """HEAD the object with its stored checksum; what it says is kept in `entry`; the reply's headers."""
        reply = self.http.request("HEAD", self.bucket, self.prefix + entry.key, headers=dict(CHECKSUM_MODE), ok=(200,))
        self._absorb(entry, reply.headers)
        return reply.headers

    def _absorb(self, entry: Entry, headers: dict[str, str]) -> None:
        entry.meta_mtime_ns = parse_mtime(headers.get(f"x-amz-meta-{MTIME_META}"))
        entry.expected = expected_from(headers, entry.size)
        if headers.get("etag"):
            entry.etag = clean_etag(headers["etag"])
        entry.statted = True

    def logical_mtime_ns(self, entry: Entry) -> int | None:
        return entry.meta_mtime_ns

    def expected(self, entry: Entry) -> Expected | None:
        return entry.expected

    def source_part_size(self, entry: Entry) -> int | None:
        exp = entry.expected
        if exp is None:
            return None
        declared = exp.part_size if (exp.sha256 and exp.parts) else None
        return declared

    def stream_only(self, entry: Entry) -> bool:
        return self.source_part_size(entry) is None

    # --- reading -----------------------------------------------------------------------------------

    def _object_key(self, entry: Entry) -> str:
        return self.prefix + entry.key

    def _archived(self, entry: Entry, exc: S3HttpError) -> PermanentError:
        if exc.code == "InvalidObjectState" or entry.storage_class in ARCHIVED:
            return PermanentError(
                f"{self.url}{entry.key} is archived in {entry.storage_class or 'Glacier'}: "
                "restore it first (migrate archive restore)"
            )
        return exc

    def read(self, entry: Entry) -> ReadResult:
        with self.open_stream(entry) as (reader, expected, mtime_ns):
            digest = StreamDigest(part_size=(expected.scheme_part_size() if expected else 0))
            chunks = []
            while True:
                chunk = reader.read()
                if not chunk:
                    break
                digest.update(chunk)
                chunks.append(chunk)
            data = b"".join(chunks)
        if len(data) != entry.size:
            raise TransientError(f"{self.url}{entry.key}: got {len(data)} bytes, expected {entry.size}")
        verified = self.verify(entry, digest.finish(), expected)
        return ReadResult(data, mtime_ns, self.sig(entry), verified)

    def verify(self, entry: Entry, digest: StreamDigest, expected: Expected | None) -> bool | None:
        if expected is None:
            return None
        declared = bool(expected.part_size) and entry.expected is not None and not _guessed(entry)
        try:
            return verify_digest(digest, expected, declared)
        except IntegrityError:
            raise IntegrityError(
                f"{self.url}{entry.key}: downloaded content does not match its stored checksum"
            ) from None

    @contextmanager
    def open_stream(self, entry: Entry) -> Any:
        key = self._object_key(entry)
        try:
            with self.http.stream(self.bucket, key, dict(CHECKSUM_MODE)) as (reply, reader):
                if reply.status != 200:
                    raise TransientError(f"GET s3://{self.bucket}/{key}: unexpected HTTP {reply.status}")
                self._absorb(entry, reply.headers)
                etag = clean_etag(reply.headers.get("etag"))
                entry.etag = etag or entry.etag
                size = int(reply.headers.get("content-length", entry.size))
                if size != entry.size:
                    entry.size = size
                mtime = entry.meta_mtime_ns or int(entry.mtime * 1e9)
                yield reader, entry.expected, mtime
        except S3HttpError as exc:
            raise self._archived(entry, exc) from exc

    def read_range(self, entry: Entry, offset: int, length: int) -> Payload:
        key = self._object_key(entry)
        headers = {"range": f"bytes={offset}-{offset + length - 1}"}
        if entry.etag:
            headers["if-match"] = f'"{entry.etag}"'
        try:
            reply = self.http.request("GET", self.bucket, key, headers=headers, what=f"GET s3://{self.bucket}/{key}")
        except S3HttpError as exc:
            if exc.status == 412:
                raise PermanentError(f"{self.url}{entry.key} changed during the copy") from exc
            raise self._archived(entry, exc) from exc
        if len(reply.body) != length:
            if reply.status == 200 and len(reply.body) == entry.size:  # server ignored Range
                return reply.body[offset : offset + length]
            raise TransientError(f"GET s3://{self.bucket}/{key}: got {len(reply.body)} bytes, expected {length}")
        return reply.body

    # --- writing -----------------------------------------------------------------------------------

    def _object_headers(self, info: WriteInfo) -> dict[str, str]:
        headers = {f"x-amz-meta-{MTIME_META}": format_mtime(info.mtime_ns)}
        if info.content_type:
            headers["content-type"] = info.content_type
        return headers | self._storage_headers()

    def _storage_headers(self, storage_class: bool = True) -> dict[str, str]:
        """The store's storage class (unless `storage_class` is False: STANDARD) and encryption."""
        headers = {}
        if storage_class and self.storage_class and self.storage_class != "STANDARD":
            headers["x-amz-storage-class"] = self.storage_class
        if self.sse:
            headers["x-amz-server-side-encryption"] = self.sse
            if self.kms_key_id:
                headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        return headers

    def _etag_is_md5(self) -> bool:
        return self.sse != "aws:kms"

    def put(self, info: WriteInfo, payload: Payload, sha256: bytes, md5: bytes) -> tuple[str, bool | None]:
        """One object in one request. Empty digests: the MD5 is taken as the bytes are sent."""
        etag, verified = self._put_object(self.prefix + info.key, self._object_headers(info), payload, sha256, md5)
        return f"{payload_length(payload)}:{etag}", verified

    def _put_object(
        self, full_key: str, headers: dict[str, str], body: Payload, sha256: bytes, md5: bytes
    ) -> tuple[str, bool | None]:
        """PUT one object and check the reply against what was sent: (ETag, verified). The SHA-256 goes in
        x-amz-checksum-sha256 when the server may keep it; an empty MD5 is hashed as the bytes are sent."""
        checksum = self._add_checksum(headers, sha256)
        reply = self.http.request(
            "PUT",
            self.bucket,
            full_key,
            headers=headers,
            body=body,
            payload_sha256=sha256.hex() if sha256 else UNSIGNED_PAYLOAD,
            ok=(200,),
            hasher=hashlib.md5 if not md5 and self.wants_md5 else None,
        )
        etag = clean_etag(reply.headers.get("etag"))
        md5_hex = (md5 or reply.sent_digest).hex()
        return etag, self._check_reply(full_key, reply.headers, etag, checksum, md5_hex, multipart=False)

    def _add_checksum(self, headers: dict[str, str], sha256: bytes) -> str:
        """Add x-amz-checksum-sha256 when we have it and the server may keep it; return it ('' if not)."""
        if not sha256 or not self.checksums.sends_sha256:
            return ""
        checksum = b64(sha256)
        headers["x-amz-checksum-sha256"] = checksum
        headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        return checksum

    def _check_reply(
        self, key: str, headers: dict[str, str], etag: str, checksum: str, md5_hex: str, multipart: bool
    ) -> bool | None:
        checks: list[bool] = []
        echoed = headers.get("x-amz-checksum-sha256") if checksum else None
        if echoed:
            checks.append(echoed.split("-")[0] == checksum)
            self.checksums.learn(kept=True)
        if md5_hex and self._etag_is_md5() and (etag_parts(etag) if multipart else etag_is_md5(etag)):
            checks.append(etag == md5_hex)
        if checksum and not echoed and self.checksums.claim_probe():
            self._probe_checksums(key)
        if checksum and not checks:
            head = self.http.request("HEAD", self.bucket, key, headers=dict(CHECKSUM_MODE), ok=(200,))
            stored = head.headers.get("x-amz-checksum-sha256")
            if stored:
                checks.append(stored.split("-")[0] == checksum)
        if False in checks:
            raise IntegrityError(f"s3://{self.bucket}/{key}: the server's checksum of what it stored differs from ours")
        return True if checks else None

    def _probe_checksums(self, key: str) -> None:
        """One HEAD without checksum mode: a server that implements additional checksums returns them only
        when asked (x-amz-checksum-mode), one that hands x-amz-checksum-sha256 back anyway is reflecting the
        request's headers as metadata and never checked it (see s3support.py)."""
        try:
            head = self.http.request("HEAD", self.bucket, key, ok=(200,))
        except TransferError:
            self.checksums.release_probe()  # the next write asks again
            return
        self.checksums.learn(kept="x-amz-checksum-sha256" not in head.headers)

    def begin(self, info: WriteInfo, part_size: int, parts: int, resume: Any = None) -> PartWriter:
        return S3PartWriter(self, info, part_size, parts, resume)

    def delete(self, keys: list[str]) -> list[tuple[str, str]]:
        failed: list[tuple[str, str]] = []
        cut = len(self.prefix)
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            body = s3control.delete_body([self.prefix + k for k in batch])
            headers = {"content-md5": b64(hashlib.md5(body).digest()), "content-type": "application/xml"}
            try:
                reply = self._control("POST", None, "delete", headers, body, f"delete in s3://{self.bucket}")
            except TransferError as exc:
                failed.extend((k, str(exc)) for k in batch)
                continue
            failed.extend((key[cut:], code) for key, code in s3control.delete_errors(reply.body))
        return failed

    # --- multipart control calls (few per file: their XML is in s3control.py) ----------------------

    def create_upload(self, info: WriteInfo, part_size: int) -> str:
        headers = self._object_headers(info)
        headers[f"x-amz-meta-{PART_SIZE_META}"] = str(part_size)
        if self.checksums.sends_sha256:
            headers["x-amz-checksum-algorithm"] = "SHA256"
        reply = self._control("POST", info.key, "uploads", headers, what=f"create upload of {self.url}{info.key}")
        if self.checksums.unknown:  # Amazon S3 and moto name the algorithm they will keep; others say nothing
            self.checksums.learn(kept=bool(reply.headers.get("x-amz-checksum-algorithm")))
        return s3control.upload_id(reply.body)

    def list_parts(self, key: str, upload_id: str) -> dict[int, tuple[str, int]] | None:
        """Part number -> (etag, size) of an upload; None when the upload no longer exists."""
        found: dict[int, tuple[str, int]] = {}
        marker = "0"
        while True:
            query = f"part-number-marker={_quote(marker)}&uploadId={_quote(upload_id)}"
            try:
                reply = self._control("GET", key, query, what=f"list parts of {self.url}{key}")
            except PermanentError as exc:
                if _upload_gone(exc):
                    return None
                raise
            page = s3control.parts_page(reply.body)
            for number, etag, size in page.rows:
                found[number] = (etag, size)
            if page.next_marker is None:
                return found
            marker = page.next_marker[0]

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self._control("DELETE", key, f"uploadId={_quote(upload_id)}", what=f"abort upload of {self.url}{key}")
        except PermanentError as exc:
            if not _upload_gone(exc):
                raise

    def uploads_for(self, key: str) -> list[str]:
        """Ids of the multipart uploads in progress for exactly this key."""
        return [upload_id for found, upload_id in self.multipart_uploads(key) if found == key]

    def multipart_uploads(self, prefix: str = "") -> list[tuple[str, str]]:
        """(key, upload id) of every multipart upload in progress under prefix+`prefix` (keys relative to the
        store's prefix), all pages."""
        found: list[tuple[str, str]] = []
        cut = len(self.prefix)
        markers: tuple[str, ...] = ("", "")
        while True:
            params = {"prefix": self.prefix + prefix, "key-marker": markers[0], "upload-id-marker": markers[1]}
            query = "&".join(["uploads"] + [f"{k}={_quote(v)}" for k, v in sorted(params.items()) if v])
            try:
                reply = self._control("GET", None, query, what=f"list uploads in {self.url}{prefix}")
            except PermanentError as exc:
                if isinstance(exc, S3HttpError) and exc.code == "NoSuchUpload":  # rclone's answer when there are none
                    return found
                raise
            page = s3control.uploads_page(reply.body)
            found.extend((key[cut:], upload_id) for key, upload_id in page.rows)
            if page.next_marker is None:
                return found
            markers = page.next_marker

    def complete_upload(self, key: str, upload_id: str, parts: list[PartDone]) -> dict[str, Any]:
        """CompleteMultipartUpload; the reply's fields as boto3 names them (ETag, ChecksumSHA256,
        ServerSideEncryption)."""
        with_sha = all(p.sha256 for p in parts)
        body = s3control.complete_body([(p.number, p.etag, b64(p.sha256) if with_sha else "") for p in parts])
        query = f"uploadId={_quote(upload_id)}"
        reply = self._control(
            "POST", key, query, {"content-type": "application/xml"}, body, f"complete {self.url}{key}"
        )
        out: dict[str, Any] = s3control.completed(reply.body)
        if reply.headers.get("x-amz-server-side-encryption"):
            out["ServerSideEncryption"] = reply.headers["x-amz-server-side-encryption"]
        return out

    def _control(
        self,
        method: str,
        key: str | None,
        query: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        what: str = "",
    ) -> Any:
        """One control request (key None: the bucket), retried like botocore would: 5xx, throttling,
        resets. A 200 reply that carries an <Error> (CompleteMultipartUpload may) is an error too."""
        full = "" if key is None else self.prefix + key

        def once() -> Any:
            reply = self.http.request(
                method,
                self.bucket,
                full,
                query=query,
                headers=dict(headers or {}),
                body=body,
                payload_sha256=hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256,
                what=what,
            )
            if reply.status == 200 and (error := s3control.error_in(reply.body)) is not None:
                raise_for_reply(Reply(500 if error[0] in RETRYABLE_CODES else 400, {}, reply.body), what)
            return reply

        try:
            return with_retries(once, self.backoff)
        except s3control.MalformedReply as exc:
            raise PermanentError(str(exc)) from exc

    # --- small objects by key, for callers with their own layout (the backup store) -----------------

    def put_bytes(
        self,
        key: str,
        data: bytes,
        sha256: bytes,
        md5: bytes,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        storage_class: bool = True,
    ) -> bool | None:
        """PUT `data` at prefix+key with user metadata (x-amz-meta-*), its SHA-256 sent and the reply checked
        as in `put` (IntegrityError when it shows other bytes; an empty MD5 is taken as the bytes are sent).
        `storage_class=False` writes STANDARD whatever the store's class. Returns True when the reply proved
        the content, None when it could not."""
        full = self.prefix + key
        headers = {f"x-amz-meta-{name.lower()}": value for name, value in (metadata or {}).items()}
        if content_type:
            headers["content-type"] = content_type
        if content_encoding:
            headers["content-encoding"] = content_encoding
        headers |= self._storage_headers(storage_class)
        return self._put_object(full, headers, data, sha256, md5)[1]

    def get(self, key: str) -> bytes:
        """The whole object at prefix+key (its size taken from the reply), checked against its stored
        SHA-256 or MD5 ETag like `read`. For small objects: it is held in memory."""
        return self.read(Entry(key, 0, 0.0)).data


def _upload_gone(exc: PermanentError) -> bool:
    """A multipart upload that no longer exists (completed, aborted, or expired by a lifecycle rule)."""
    return isinstance(exc, S3HttpError) and (exc.status == 404 or exc.code == "NoSuchUpload")


def completion_lost(exc: PermanentError) -> bool:
    """CompleteMultipartUpload failed because the upload or one of its parts is gone: the object must be
    sent again from the start (a new upload)."""
    return isinstance(exc, S3HttpError) and exc.code in ("InvalidPart", "NoSuchUpload")


def _guessed(entry: Entry) -> bool:
    """Whether the part size in entry.expected was guessed from the ETag rather than declared."""
    exp = entry.expected
    return bool(exp and exp.part_size and not exp.sha256 and exp.md5_etag and etag_parts(exp.md5_etag))


class S3PartWriter(PartWriter):
    """A multipart upload, resumable: its id and finished parts are kept in the transfer state."""

    def __init__(self, store: S3Store, info: WriteInfo, part_size: int, parts: int, resume: Any) -> None:
        self.store = store
        self.info = info
        self.part_size = part_size
        self.parts = parts
        self.journal = resume  # UploadJournal (state.py) or None
        self.done = {}
        self.upload_id = ""
        if self.journal is not None:
            self.upload_id, self.done = self.journal.resume(store, info.key, part_size)
        if not self.upload_id:
            if self.journal is not None:
                self.journal.intend(info.key, part_size)
            self.upload_id = store.create_upload(info, part_size)
            if self.journal is not None:
                self.journal.started(info.key, self.upload_id)

    def write_part(self, number: int, offset: int, payload: Payload, sha256: bytes, md5: bytes) -> PartDone:
        key = self.store.prefix + self.info.key
        headers: dict[str, str] = {}
        checksum = self.store._add_checksum(headers, sha256)
        query = f"partNumber={number}&uploadId={_quote(self.upload_id)}"
        reply = self.store.http.request(
            "PUT",
            self.store.bucket,
            key,
            query=query,
            headers=headers,
            body=payload,
            payload_sha256=sha256.hex() if sha256 else UNSIGNED_PAYLOAD,
            what=f"upload part {number} of s3://{self.store.bucket}/{key}",
            ok=(200, 501),
            hasher=hashlib.md5 if not md5 and self.store.wants_md5 else None,
        )
        if reply.status == 501:  # a part number the server has seen before and will not replace
            raise StartOver(f"upload part {number} of s3://{self.store.bucket}/{key}: HTTP 501 NotImplemented")
        etag = clean_etag(reply.headers.get("etag"))
        md5 = md5 or reply.sent_digest
        echoed = reply.headers.get("x-amz-checksum-sha256") if checksum else None
        if echoed:
            self.store.checksums.learn(kept=True)
        md5_mismatch = bool(md5) and self.store._etag_is_md5() and etag_is_md5(etag) and etag != md5.hex()
        if (echoed and echoed != checksum) or md5_mismatch:
            raise IntegrityError(f"part {number} of s3://{self.store.bucket}/{key}: the server stored different bytes")
        done = PartDone(number, payload_length(payload), sha256, md5, etag)
        if self.journal is not None:
            self.journal.part_done(self.info.key, done)
        return done

    def commit(self, parts: list[PartDone]) -> tuple[str, bool | None]:
        parts = sorted(parts, key=lambda p: p.number)
        key = self.store.prefix + self.info.key
        try:
            reply = self.store.complete_upload(self.info.key, self.upload_id, parts)
        except PermanentError as exc:
            if completion_lost(exc):
                if self.journal is not None:
                    self.journal.forget(self.info.key)
                raise TransientError(f"completing s3://{self.store.bucket}/{key}: {exc}") from exc
            raise
        etag = clean_etag(reply.get("ETag"))
        composite = composite_sha256([p.sha256 for p in parts]) if all(p.sha256 for p in parts) else ""
        headers = {"x-amz-checksum-sha256": reply.get("ChecksumSHA256") or ""}
        headers = {k: v for k, v in headers.items() if v}
        try:
            verified = self.store._check_reply(
                key,
                headers,
                etag,
                composite,
                multipart_etag([p.md5 for p in parts]) if all(p.md5 for p in parts) else "",
                multipart=True,
            )
        finally:
            if self.journal is not None:
                self.journal.forget(self.info.key)
        return f"{self.info.size}:{etag}", verified

    def abort(self) -> None:
        if self.upload_id:
            self.store.abort_upload(self.info.key, self.upload_id)
        if self.journal is not None:
            self.journal.forget(self.info.key)


def _quote(value: str) -> str:
    return quote(value, safe="-_.~")
