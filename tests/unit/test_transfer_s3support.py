"""ChecksumSupport: what an S3 endpoint does with x-amz-checksum-sha256, settled by the first evidence."""

from __future__ import annotations

import threading

from migrate_cli.transfer.s3support import ChecksumSupport, Support


def test_amazon_s3_is_known_from_the_start() -> None:
    support = ChecksumSupport(validated=True)
    assert support.state is Support.VALIDATED and support.sends_sha256 and not support.unknown
    support.learn(kept=False)  # nothing a reply says changes it
    assert support.state is Support.VALIDATED
    assert not support.claim_probe()


def test_unknown_sends_sha256_until_a_reply_says_otherwise() -> None:
    support = ChecksumSupport(validated=False)
    assert support.unknown and support.sends_sha256
    support.learn(kept=False)
    assert support.state is Support.IGNORED and not support.sends_sha256
    support.learn(kept=True)  # the first answer stands
    assert support.state is Support.IGNORED


def test_a_server_that_keeps_checksums_keeps_getting_them() -> None:
    support = ChecksumSupport(validated=False)
    support.learn(kept=True)
    assert support.state is Support.STORED and support.sends_sha256


def test_one_probe_at_a_time() -> None:
    support = ChecksumSupport(validated=False)
    claims: list[bool] = []
    threads = [threading.Thread(target=lambda: claims.append(support.claim_probe())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert claims.count(True) == 1
    support.release_probe()  # the probe failed: the next write may ask again
    assert support.claim_probe()
    support.learn(kept=True)
    assert not support.claim_probe()
