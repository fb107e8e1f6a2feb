"""What an S3 endpoint does with the SHA-256 we send (`x-amz-checksum-sha256`), learnt from its replies.

- VALIDATED: Amazon S3 implements additional checksums and checks them (BadDigest on a mismatch). Known from
  the endpoint's name.
- STORED: the server implements them without checking: it keeps the value, returns it when asked with
  x-amz-checksum-mode and names the algorithm of a multipart upload (moto).
- IGNORED: the server does not implement them: it never checks the value and has no multipart composite;
  it may hand the header back as plain metadata (`rclone serve s3` returns every request header it was
  sent). There the only proof of what was stored is the ETag, the server's MD5 of the bytes, so writes
  carry no SHA-256: the MD5 is hashed as the bytes are sent (one pass over the data instead of two, and
  the first byte goes out at once) and compared with the ETag.
- UNKNOWN: until a reply says. Writes meanwhile carry the SHA-256 as if it were kept.

The evidence, whichever comes first: a PUT or UploadPart reply that echoes the checksum (Amazon S3); a
CreateMultipartUpload reply that names its checksum algorithm or does not; or one HEAD of the first object
written, without checksum mode (see S3Store._probe_checksums).
"""

from __future__ import annotations

import threading
from enum import Enum


class Support(Enum):
    UNKNOWN = "unknown"
    VALIDATED = "validated"
    STORED = "stored"
    IGNORED = "ignored"


class ChecksumSupport:
    """Thread-safe: the first reply that settles it wins; one caller at a time is given the HEAD probe."""

    def __init__(self, validated: bool) -> None:
        self.state = Support.VALIDATED if validated else Support.UNKNOWN
        self._lock = threading.Lock()
        self._probing = False

    @property
    def sends_sha256(self) -> bool:
        """Whether writes should carry x-amz-checksum-sha256."""
        return self.state is not Support.IGNORED

    @property
    def unknown(self) -> bool:
        return self.state is Support.UNKNOWN

    def learn(self, kept: bool) -> None:
        if self.state is not Support.UNKNOWN:
            return  # settled: every later reply (each PUT on AWS) needs no lock
        with self._lock:
            if self.state is Support.UNKNOWN:
                self.state = Support.STORED if kept else Support.IGNORED
            self._probing = False

    def claim_probe(self) -> bool:
        """True for exactly one caller while the answer is unknown and no probe is under way."""
        if self.state is not Support.UNKNOWN:
            return False
        with self._lock:
            if self.state is not Support.UNKNOWN or self._probing:
                return False
            self._probing = True
            return True

    def release_probe(self) -> None:
        with self._lock:
            self._probing = False
