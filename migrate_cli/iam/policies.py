"""The least-privilege policy documents of each service account, built from the IAM configuration.

Pure functions: configuration + target in, policy document out. Every resource is named from the
configuration; the only `"*"` resources are the actions AWS cannot scope (see reference.py), and where a
kind of Direct Connect object is not listed by id the grant is every object of that kind in this account
and region (`dxvif/*`), never all of AWS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from migrate_cli.iam.config import BackupWriter, Etl, GlacierRestore, NetworkReader, S3Location
from migrate_cli.iam.documents import VERSION
from migrate_cli.iam.target import Target

Statement = dict[str, Any]

OBJECT_READ = ("s3:GetObject",)
SERVICE_SIDS = {"ec2.amazonaws.com": "Ec2Instances", "states.amazonaws.com": "StepFunctions"}
OBJECT_WRITE = ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")


def document(statements: Iterable[Statement]) -> dict[str, Any]:
    return {"Version": VERSION, "Statement": list(statements)}


def statement(sid: str, actions: Sequence[str], resources: Sequence[str], condition: dict | None = None) -> Statement:
    st: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(dict.fromkeys(actions)),
        "Resource": sorted(dict.fromkeys(resources)),
    }
    if condition:
        st["Condition"] = condition
    return st


# --------------------------------------------------------------------------------------------- S3 helpers


def bucket_arn(t: Target, bucket: str) -> str:
    return f"arn:{t.partition}:s3:::{bucket}"


def objects_arn(t: Target, loc: S3Location) -> str:
    """Every object under the location's prefix (the prefix ends with '/', so `hq/` never covers `hq2/`)."""
    return f"arn:{t.partition}:s3:::{loc.bucket}/{loc.prefix}*"


def list_statements(sid: str, t: Target, locations: Sequence[S3Location]) -> list[Statement]:
    """s3:ListBucket per bucket, limited with s3:prefix to the configured prefixes (none for a whole bucket)."""
    by_bucket: dict[str, list[str]] = {}
    for loc in locations:
        by_bucket.setdefault(loc.bucket, []).append(loc.prefix)
    out = []
    for index, (bucket, prefixes) in enumerate(sorted(by_bucket.items())):
        name = sid if len(by_bucket) == 1 else f"{sid}{index + 1}"
        condition = None
        if "" not in prefixes:
            values = sorted({v for p in prefixes for v in (p, f"{p}*")})
            condition = {"StringLike": {"s3:prefix": values}}
        out.append(statement(name, ["s3:ListBucket"], [bucket_arn(t, bucket)], condition))
    return out


def object_statement(sid: str, t: Target, actions: Sequence[str], locations: Sequence[S3Location]) -> Statement:
    return statement(sid, actions, [objects_arn(t, loc) for loc in locations])


def kms_statement(sid: str, t: Target, key: str, actions: Sequence[str]) -> Statement:
    arn = key if key.startswith("arn:") else t.arn("kms", f"key/{key}")
    return statement(sid, actions, [arn])


# --------------------------------------------------------------------------------------------- roles


def network_reader(cfg: NetworkReader, t: Target) -> dict[str, Any]:
    """Describe-only Direct Connect and EC2 VPN."""

    def dx(kind: str, ids: list[str]) -> list[str]:
        return [t.arn("directconnect", f"{kind}/{i}") for i in ids] or [t.arn("directconnect", f"{kind}/*")]

    gateways = [t.arn("directconnect", f"dx-gateway/{g}", region=False) for g in cfg.gateways] or [
        t.arn("directconnect", "dx-gateway/*", region=False)
    ]
    return document(
        [
            statement(
                "DescribeDirectConnect",
                [
                    "directconnect:DescribeConnections",
                    "directconnect:DescribeLags",
                    "directconnect:DescribeVirtualInterfaces",
                    "directconnect:DescribeRouterConfiguration",
                ],
                dx("dxcon", cfg.connections) + dx("dxlag", cfg.lags) + dx("dxvif", cfg.virtual_interfaces),
            ),
            statement(
                "DescribeDirectConnectGateways",
                [
                    "directconnect:DescribeDirectConnectGateways",
                    "directconnect:DescribeDirectConnectGatewayAttachments",
                ],
                gateways,
            ),
            # EC2 Describe* cannot be scoped to resources (reference.EC2_DESCRIBE); ec2:Region keeps it in one region.
            statement(
                "DescribeVpn",
                [
                    "ec2:DescribeVpnConnections",
                    "ec2:DescribeVpnGateways",
                    "ec2:DescribeCustomerGateways",
                    "ec2:DescribeTransitGateways",
                ],
                ["*"],
                {"StringEquals": {"ec2:Region": [t.region]}},
            ),
        ]
    )


def backup_writer(cfg: BackupWriter, t: Target) -> dict[str, Any]:
    """Write one prefix: list it, put/get objects, finish or abort multipart uploads; delete only for retention."""
    loc = cfg.destination
    statements = list_statements("ListBackupPrefix", t, [loc])
    # ListMultipartUploads has no s3:prefix condition key: it sees in-progress upload keys bucket-wide
    # (names only, no data). The backup tool needs it to abort uploads a killed run left behind.
    statements.append(
        statement("FindUnfinishedUploads", ["s3:ListBucketMultipartUploads"], [bucket_arn(t, loc.bucket)])
    )
    statements.append(object_statement("WriteBackupObjects", t, OBJECT_WRITE, [loc]))
    if cfg.delete_for_retention:
        statements.append(object_statement("PruneForRetention", t, ["s3:DeleteObject"], [loc]))
    if cfg.kms_key:
        statements.append(kms_statement("UseBackupKey", t, cfg.kms_key, ["kms:GenerateDataKey", "kms:Decrypt"]))
    return document(statements)


def glacier_restore(cfg: GlacierRestore, t: Target) -> dict[str, Any]:
    """Request restores of archived objects under the prefixes, check their status and read them back."""
    statements = list_statements("ListArchive", t, cfg.locations)
    statements.append(
        object_statement("RestoreArchivedObjects", t, ["s3:RestoreObject", "s3:GetObject"], cfg.locations)
    )
    if cfg.kms_key:
        statements.append(kms_statement("DecryptArchive", t, cfg.kms_key, ["kms:Decrypt"]))
    return document(statements)


def _etl_data(cfg: Etl, t: Target) -> list[Statement]:
    statements: list[Statement] = []
    locations = [*cfg.read, *cfg.write]
    if locations:
        statements += list_statements("ListPipelineData", t, locations)
    if cfg.read:
        statements.append(object_statement("ReadPipelineInput", t, OBJECT_READ, cfg.read))
    if cfg.write:
        statements.append(object_statement("WritePipelineOutput", t, OBJECT_WRITE, cfg.write))
    statements.append(
        statement(
            "PipelineJobTable",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            [t.arn("dynamodb", f"table/{cfg.table}")],
        )
    )
    if cfg.kms_key:
        statements.append(kms_statement("UsePipelineKey", t, cfg.kms_key, ["kms:GenerateDataKey", "kms:Decrypt"]))
    return statements


def etl_workflow(cfg: Etl, t: Target) -> dict[str, Any]:
    """The state machine's execution role: its Glue jobs, Athena queries, the job table, the named buckets."""
    statements: list[Statement] = []
    if cfg.glue_jobs:
        statements.append(
            statement(
                "RunGlueJobs",
                ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                [t.arn("glue", f"job/{job}") for job in cfg.glue_jobs],
            )
        )
    if cfg.athena is not None:
        athena = cfg.athena
        statements.append(
            statement(
                "RunAthenaQueries",
                [
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                    "athena:GetWorkGroup",
                ],
                [t.arn("athena", f"workgroup/{athena.workgroup}")],
            )
        )
        statements.append(
            statement(
                "ReadCatalog",
                ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                [
                    t.arn("glue", "catalog"),
                    t.arn("glue", f"database/{athena.database}"),
                    t.arn("glue", f"table/{athena.database}/*"),
                ],
            )
        )
        statements += list_statements("ListQueryResults", t, [athena.results])
        statements.append(
            statement("LocateResultsBucket", ["s3:GetBucketLocation"], [bucket_arn(t, athena.results.bucket)])
        )
        statements.append(object_statement("WriteQueryResults", t, OBJECT_WRITE, [athena.results]))
    return document(statements + _etl_data(cfg, t))


def etl_runner(cfg: Etl, t: Target) -> dict[str, Any]:
    """The on-prem runner: start and watch the pipeline, work its activities, the job table and buckets."""
    sm = t.arn("states", f"stateMachine:{cfg.state_machine}")
    statements = [
        statement("StartPipeline", ["states:StartExecution"], [sm]),
        statement(
            "WatchPipelineExecutions",
            ["states:DescribeExecution", "states:StopExecution"],
            [t.arn("states", f"execution:{cfg.state_machine}:*")],
        ),
    ]
    if cfg.activities:
        statements.append(
            statement(
                "PollActivities",
                ["states:GetActivityTask"],
                [t.arn("states", f"activity:{name}") for name in cfg.activities],
            )
        )
        # Task tokens are not ARNs: SendTask* cannot be scoped (reference.TASK_TOKEN). A token is only
        # obtainable from GetActivityTask above, which is scoped to the named activities.
        statements.append(
            statement(
                "ReportActivityResults",
                ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                ["*"],
            )
        )
    return document(statements + _etl_data(cfg, t))


def assume_roles(role_arns: Sequence[str]) -> dict[str, Any]:
    """The runner user's only permission: assume the roles it is trusted by."""
    return document([statement("AssumeRunnerRoles", ["sts:AssumeRole"], role_arns)])


# --------------------------------------------------------------------------------------------- trust


def trust(
    *, aws: Sequence[str] = (), services: Sequence[str] = (), states_source: tuple[str, str] | None = None
) -> dict[str, Any]:
    """A trust policy: AWS principals and/or service principals may assume the role.

    `states_source` = (account, state machine ARN) adds the confused-deputy guard for Step Functions.
    """
    statements: list[Statement] = []
    if aws:
        statements.append(
            {"Sid": "Runner", "Effect": "Allow", "Principal": {"AWS": sorted(set(aws))}, "Action": ["sts:AssumeRole"]}
        )
    for service in services:
        st: Statement = {
            "Sid": SERVICE_SIDS.get(service, "Service"),
            "Effect": "Allow",
            "Principal": {"Service": [service]},
            "Action": ["sts:AssumeRole"],
        }
        if service == "states.amazonaws.com" and states_source is not None:
            account, arn = states_source
            st["Condition"] = {"StringEquals": {"aws:SourceAccount": [account]}, "ArnLike": {"aws:SourceArn": [arn]}}
        statements.append(st)
    return document(statements)
