"""The XML of the multipart control calls and DeleteObjects, on replies as Amazon S3 documents them."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from migrate_cli.transfer import s3control

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_upload_id() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket><Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>"""
    assert s3control.upload_id(body) == "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
    with pytest.raises(s3control.MalformedReply, match="no UploadId"):
        s3control.upload_id(b"<InitiateMultipartUploadResult/>")
    with pytest.raises(s3control.MalformedReply, match="not XML"):
        s3control.upload_id(b"<html>proxy error")


def test_parts_pages() -> None:
    body = b"""<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <PartNumberMarker>1</PartNumberMarker><NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>
  <Part><PartNumber>2</PartNumber><ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag><Size>10485760</Size></Part>
  <Part><PartNumber>3</PartNumber><ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag><Size>10485760</Size></Part>
</ListPartsResult>"""
    page = s3control.parts_page(body)
    assert page.rows == [
        (2, "7778aef83f66abc1fa1e8477f296d394", 10485760),
        (3, "aaaa18db4cc2f85cedef654fccc4a4x8", 10485760),
    ]
    assert page.next_marker == ("3",)
    last = s3control.parts_page(b"<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>")
    assert last.rows == [] and last.next_marker is None  # no namespace, as some servers answer


def test_upload_pages() -> None:
    body = b"""<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket><NextKeyMarker>my-movie.m2ts</NextKeyMarker>
  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
  <IsTruncated>true</IsTruncated>
  <Upload><Key>my-divisor</Key><UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId></Upload>
  <Upload><Key>my-movie.m2ts</Key><UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId></Upload>
</ListMultipartUploadsResult>"""
    page = s3control.uploads_page(body)
    assert page.rows[0] == ("my-divisor", "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw")
    assert len(page.rows) == 2
    assert page.next_marker == ("my-movie.m2ts", "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ")
    assert s3control.uploads_page(b"<ListMultipartUploadsResult/>").next_marker is None


def test_complete_body_and_reply() -> None:
    body = s3control.complete_body([(1, "a54357aff0632cce46d942af68356b38", "c2hhMjU2"), (2, "0c78aef8", "")])
    root = ElementTree.fromstring(body)
    parts = root.findall(f"{NS}Part")
    assert [p.findtext(f"{NS}PartNumber") for p in parts] == ["1", "2"]
    assert parts[0].findtext(f"{NS}ETag") == '"a54357aff0632cce46d942af68356b38"'
    assert parts[0].findtext(f"{NS}ChecksumSHA256") == "c2hhMjU2"
    assert parts[1].find(f"{NS}ChecksumSHA256") is None
    reply = b"""<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://Example-Bucket.s3.region.amazonaws.com/Example-Object</Location>
  <Bucket>Example-Bucket</Bucket><Key>Example-Object</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag><ChecksumSHA256>Y29tcG9zaXRl-9</ChecksumSHA256>
</CompleteMultipartUploadResult>"""
    done = s3control.completed(reply)
    assert done["ETag"] == '"3858f62230ac3c915f300c664312c11f-9"' and done["ChecksumSHA256"] == "Y29tcG9zaXRl-9"
    assert s3control.error_in(reply) is None


def test_an_error_inside_a_200_reply() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>
<RequestId>656c76696e6727732072657175657374</RequestId></Error>"""
    assert s3control.error_in(body) == ("InternalError", "We encountered an internal error. Please try again.")
    assert s3control.error_in(b"") is None


def test_delete_body_keeps_every_key_exactly() -> None:
    keys = ["plain.txt", "a & b <c>.txt", "dir/ünï cödé.bin", "line\r\nbreak", "quote\"'s"]
    root = ElementTree.fromstring(s3control.delete_body(keys))
    assert root.findtext(f"{NS}Quiet") == "true"
    assert [o.findtext(f"{NS}Key") for o in root.findall(f"{NS}Object")] == keys


def test_delete_errors() -> None:
    body = b"""<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
</DeleteResult>"""
    assert s3control.delete_errors(body) == [("sample2.txt", "AccessDenied")]
    assert s3control.delete_errors(b'<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>') == []
    assert s3control.delete_errors(b"") == []
