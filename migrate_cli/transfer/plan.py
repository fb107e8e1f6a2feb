"""Compare a source and a destination listing: what to copy, what to skip, what to delete.

Default comparison (size + mtime): a file is copied when it is new, when the sizes differ, or when the
modification times differ (S3 objects carry the source mtime in x-amz-meta-mtime). When the transfer
state says the pair (source signature, destination signature) was copied before and neither side changed
since, the object is skipped without asking the destination (no HEAD): that is what makes a no-op re-sync
of thousands of objects cost two listings. An S3 object without our mtime (written by another tool) is
treated as `aws s3 sync` does: skipped when its LastModified is not older than the source file.
`--checksum`: sizes first, then content hashes (SHA-256, using the S3 object's own checksum scheme, full
or composite, so only the local side is read), or the ETag's MD5 when an object has no SHA-256.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.transfer.checksums import clean_etag, etag_is_md5
from migrate_cli.transfer.filters import KeyFilter
from migrate_cli.transfer.retry import Backoff, TransferError, with_retries
from migrate_cli.transfer.sources import Entry, Store

MS = 1_000_000
SECOND = 1_000_000_000


@dataclass
class CopyItem:
    key: str
    source: Entry
    reason: str  # new | changed: size | changed: mtime | changed: content
    dest: Entry | None = None


@dataclass
class SyncPlan:
    source_url: str
    dest_url: str
    compare: str
    copies: list[CopyItem] = field(default_factory=list)
    skips: list[Entry] = field(default_factory=list)
    deletes: list[Entry] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    learned: list[tuple[str, str, str]] = field(default_factory=list)  # (key, src sig, dst sig) found identical
    # keys of unfinished uploads / partial downloads of earlier runs that this one will not resume: cleaned up
    leftovers: list[str] = field(default_factory=list)

    @property
    def copy_bytes(self) -> int:
        return sum(i.source.size for i in self.copies)

    @property
    def skip_bytes(self) -> int:
        return sum(e.size for e in self.skips)

    @property
    def delete_bytes(self) -> int:
        return sum(e.size for e in self.deletes)

    def copy_sigs(self, source: Store) -> dict[str, str]:
        """key -> source signature of what this plan copies: what a recorded upload or partial download must
        match to be resumed (state.py)."""
        return {i.key: source.sig(i.source) for i in self.copies}

    @property
    def changed(self) -> bool:
        return bool(self.copies or self.deletes or self.leftovers)

    def counts(self) -> dict[str, Any]:
        return {
            "copy": {"files": len(self.copies), "bytes": self.copy_bytes},
            "skip": {"files": len(self.skips), "bytes": self.skip_bytes},
            "delete": {"files": len(self.deletes), "bytes": self.delete_bytes},
            "errors": len(self.errors),
            "warnings": len(self.warnings),
        }


def unsafe_key(key: str) -> str | None:
    """Why a key cannot become a file path (absolute, '..', empty segments), or None."""
    if "\x00" in key:
        return "contains a NUL byte"
    if key.startswith("/"):
        return "is absolute"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "has an empty, '.' or '..' path segment"
    return None


def _blocked(key: str, prefixes: list[str]) -> bool:
    return any(key.startswith(p) for p in prefixes)


def build_plan(
    source: Store,
    dest: Store,
    key_filter: KeyFilter,
    manifest: dict[str, tuple[str, str]],
    checksum: bool = False,
    delete: bool = False,
    follow_symlinks: bool = True,
    workers: int = 8,
    backoff: Backoff | None = None,
) -> SyncPlan:
    """List both sides and decide, per key, copy / skip / delete. Reads only; changes nothing."""
    backoff = backoff or Backoff.from_env()
    plan = SyncPlan(source.url, dest.url, "checksum" if checksum else "size+mtime")
    with ThreadPoolExecutor(max_workers=2) as pool:
        src_future = pool.submit(source.list, follow_symlinks)
        dst_listing = dest.list()
        src_listing = src_future.result()
    plan.errors.extend(src_listing.errors)
    plan.warnings.extend(src_listing.warnings)
    plan.errors.extend(dst_listing.errors)
    src = {k: e for k, e in src_listing.entries.items() if key_filter(k)}
    dst = {k: e for k, e in dst_listing.entries.items() if key_filter(k)}
    if dest.kind != "s3":
        for key in [k for k in src if unsafe_key(k)]:
            plan.errors.append((key, f"skipped: the key {unsafe_key(key)}"))
            del src[key]
    undecided: list[tuple[Entry, Entry]] = []
    for key in sorted(src):
        s, d = src[key], dst.get(key)
        if d is None:
            plan.copies.append(CopyItem(key, s, "new"))
        elif s.size != d.size:
            plan.copies.append(CopyItem(key, s, "changed: size", d))
        elif not checksum and manifest.get(key) == (source.sig(s), dest.sig(d)):
            plan.skips.append(s)
        else:
            undecided.append((s, d))
    decide = _same_content if checksum else _same_mtime
    results = _parallel(workers, lambda pair: decide(source, dest, *pair, backoff), undecided)
    for (s, d), verdict in zip(undecided, results, strict=True):
        if isinstance(verdict, TransferError):
            plan.errors.append((s.key, str(verdict)))
        elif verdict is True:
            plan.skips.append(s)
            plan.learned.append((s.key, source.sig(s), dest.sig(d)))
        else:
            plan.copies.append(CopyItem(s.key, s, "changed: content" if checksum else "changed: mtime", d))
    plan.copies.sort(key=lambda item: item.key)
    if delete:
        blocked = src_listing.blocked
        plan.deletes = [d for k, d in sorted(dst.items()) if k not in src_listing.entries and not _blocked(k, blocked)]
    return plan


def _parallel(workers: int, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    def safe(item: Any) -> Any:
        try:
            return fn(item)
        except TransferError as exc:
            return exc

    if len(items) <= 1:
        return [safe(i) for i in items]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(safe, items))


def _stat(store: Store, entry: Entry, backoff: Backoff) -> Entry:
    if store.kind == "s3" and not entry.statted:
        with_retries(lambda: store.stat(entry), backoff)
    return entry


def _window(source: Store, dest: Store) -> int:
    return SECOND if "sftp" in (source.kind, dest.kind) else MS


def _same_mtime(source: Store, dest: Store, s: Entry, d: Entry, backoff: Backoff) -> bool:
    _stat(source, s, backoff)
    _stat(dest, d, backoff)
    src_ns, dst_ns = source.logical_mtime_ns(s), dest.logical_mtime_ns(d)
    if src_ns is not None and dst_ns is not None:
        return abs(src_ns - dst_ns) < _window(source, dest)
    if dst_ns is None and src_ns is not None:  # an object another tool wrote: `aws s3 sync` semantics
        return int(d.mtime * 1e9) >= src_ns - MS
    if src_ns is None and dst_ns is not None:  # source object without our mtime: we gave the copy its LastModified
        return abs(int(s.mtime * 1e9) - dst_ns) < SECOND
    same_etag = clean_etag(s.etag) == clean_etag(d.etag) and etag_is_md5(s.etag)
    return same_etag or d.mtime >= s.mtime


def _same_content(source: Store, dest: Store, s: Entry, d: Entry, backoff: Backoff) -> bool:
    _stat(source, s, backoff)
    _stat(dest, d, backoff)
    exp_s, exp_d = source.expected(s), dest.expected(d)
    if exp_s is not None and exp_d is not None:  # S3 to S3: compare what each side stored
        if exp_s.sha256 and exp_d.sha256 and (exp_s.parts, exp_s.part_size) == (exp_d.parts, exp_d.part_size):
            return exp_s.sha256 == exp_d.sha256
        return bool(exp_s.md5_etag) and exp_s.md5_etag == exp_d.md5_etag
    if exp_s is None and exp_d is None:
        return source.digest(s, 0).sha256.digest() == dest.digest(d, 0).sha256.digest()
    remote, other_store, other = (exp_d, source, s) if exp_d is not None else (exp_s, dest, d)
    assert remote is not None
    if not remote.verifiable:
        return False  # nothing to compare with: copy to be sure
    digest = other_store.digest(other, remote.scheme_part_size())
    return digest.matches(remote) is True
