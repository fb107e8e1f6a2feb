"""Canonical policy documents: equal meaning compares equal; real differences show as unified diffs."""

from __future__ import annotations

from migrate_cli.iam.documents import canonical, compact, json_diff, same, size, unified_diff


def test_equivalent_spellings_are_the_same() -> None:
    a = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
    }
    b = {
        "Statement": [
            {"Resource": ["arn:aws:s3:::b/*"], "Action": ["s3:GetObject", "s3:GetObject"], "Effect": "Allow"}
        ],
        "Version": "2012-10-17",
    }
    assert same(a, b)
    assert unified_diff("x", a, b) == ""
    assert canonical(a) == canonical(b)
    c = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"}],
    }
    d = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}],
    }
    assert same(c, d)
    assert not same(a, c)


def test_principals_and_conditions_are_normalized() -> None:
    a = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": "1"}},
            }
        ]
    }
    b = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
                "Condition": {"StringEquals": {"aws:SourceAccount": ["1"]}},
            }
        ]
    }
    assert same(a, b)


def test_diff_shows_the_change() -> None:
    before = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a/*"}],
    }
    after = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/b/*"}],
    }
    diff = unified_diff("policy/p/document", before, after)
    assert diff.startswith("--- a/policy/p/document\n+++ b/policy/p/document\n")
    assert '-        "arn:aws:s3:::b/a/*"' in diff
    assert '+        "arn:aws:s3:::b/b/*"' in diff
    created = unified_diff("policy/p/document", None, after)
    assert created.startswith("--- /dev/null\n+++ b/policy/p/document\n")
    assert all(line.startswith(("+", "@@", "---")) for line in created.splitlines())
    assert json_diff("role/r/summary", {"a": 1}, {"a": 1}) == ""
    assert '-  "a": 1' in json_diff("role/r/summary", {"a": 1}, {"a": 2})


def test_compact_size_ignores_whitespace() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    assert " " not in compact(doc)
    assert size(doc) == len(compact(doc))
