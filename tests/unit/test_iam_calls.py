"""IAM call helpers: error mapping and the retry for a principal IAM does not know yet.

moto applies IAM changes at once, so IAM's eventual consistency (a user created a moment ago is an
"Invalid principal" in a trust policy for a few seconds) cannot be reproduced on the local endpoint;
these tests use botocore's Stubber with the documented error shapes instead.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from migrate_cli.core.errors import OperationFailed
from migrate_cli.iam.calls import call, call_retrying_new_principal, get_or_none

TRUST = '{"Version":"2012-10-17","Statement":[]}'


def _iam() -> tuple[object, Stubber]:
    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return iam, Stubber(iam)


def test_invalid_new_principal_is_retried_then_succeeds() -> None:
    iam, stub = _iam()
    stub.add_client_error("update_assume_role_policy", "MalformedPolicyDocument", "Invalid principal in policy: ...")
    stub.add_response("update_assume_role_policy", {}, {"RoleName": "r", "PolicyDocument": TRUST})
    with stub:
        call_retrying_new_principal(iam.update_assume_role_policy, timeout=5, RoleName="r", PolicyDocument=TRUST)
        stub.assert_no_pending_responses()


def test_other_errors_are_not_retried_and_name_the_call() -> None:
    iam, stub = _iam()
    stub.add_client_error("update_assume_role_policy", "MalformedPolicyDocument", "Syntax errors in policy.")
    with stub, pytest.raises(OperationFailed, match="iam UpdateAssumeRolePolicy: MalformedPolicyDocument: Syntax"):
        call_retrying_new_principal(iam.update_assume_role_policy, timeout=5, RoleName="r", PolicyDocument=TRUST)


def test_missing_entity_is_none_and_other_errors_fail() -> None:
    iam, stub = _iam()
    stub.add_client_error("get_role", "NoSuchEntity", "The role with name r cannot be found.", 404)
    stub.add_client_error("get_role", "ServiceFailure", "boom", 500)
    with stub:
        assert get_or_none(iam.get_role, RoleName="r") is None
        with pytest.raises(OperationFailed, match="iam GetRole: ServiceFailure: boom"):
            call(iam.get_role, RoleName="r")
