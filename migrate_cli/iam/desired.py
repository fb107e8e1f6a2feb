"""The desired IAM state: which roles, policies, instance profiles and (optionally) the runner user.

Names: `<name_prefix><service account>` for roles and their managed policies (one customer-managed policy
per role, same name), all under the configured IAM path, all tagged `managed-by=migrate-cli`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrate_cli.iam import policies
from migrate_cli.iam.config import OWNER_TAG, ROLE_TAG, IamConfig
from migrate_cli.iam.target import Target

EC2 = "ec2.amazonaws.com"
STATES = "states.amazonaws.com"


@dataclass(frozen=True)
class DesiredPolicy:
    name: str
    arn: str
    document: dict[str, Any]


@dataclass(frozen=True)
class DesiredRole:
    key: str  # the service account: network-reader, backup-writer, ...
    name: str
    arn: str
    description: str
    trust: dict[str, Any]
    policy: DesiredPolicy
    instance_profile: bool
    runner: bool  # assumable by the on-prem runner
    tags: dict[str, str]


@dataclass(frozen=True)
class DesiredUser:
    name: str
    arn: str
    policy_name: str
    policy: dict[str, Any]
    tags: dict[str, str]


@dataclass
class DesiredState:
    target: Target
    path: str
    roles: list[DesiredRole] = field(default_factory=list)
    user: DesiredUser | None = None

    def documents(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(label, kind, document) for every document, for validation and display."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        if self.user is not None:
            out.append((f"user/{self.user.name} inline policy {self.user.policy_name}", "inline", self.user.policy))
        for role in self.roles:
            out.append((f"role/{role.name} trust policy", "trust", role.trust))
            out.append((f"policy/{role.policy.name}", "managed", role.policy.document))
        return out


def tags_for(config: IamConfig, key: str) -> dict[str, str]:
    return {**config.tags, OWNER_TAG[0]: OWNER_TAG[1], ROLE_TAG: key}


def user_name(config: IamConfig) -> str:
    return f"{config.name_prefix}{config.runner.user}"


def user_arn(config: IamConfig, t: Target) -> str:
    return f"arn:{t.partition}:iam::{t.account}:user{config.path}{user_name(config)}"


def build(config: IamConfig, t: Target, *, with_user: bool) -> DesiredState:
    """Everything the configuration asks for. `with_user`: the runner user is part of it (and trusted)."""
    state = DesiredState(target=t, path=config.path)
    runner_aws = list(config.runner.principals)
    if with_user:
        runner_aws.append(user_arn(config, t))
    if not runner_aws:
        runner_aws = [f"arn:{t.partition}:iam::{t.account}:root"]  # principals of this account its IAM allows

    def role(key: str, description: str, document: dict[str, Any], assumed_by: list[str], **trust_kw: Any) -> None:
        name = f"{config.name_prefix}{key}"
        services = [EC2] if "ec2" in assumed_by else []
        services += trust_kw.pop("services", [])
        trust = policies.trust(aws=runner_aws if "runner" in assumed_by else [], services=services, **trust_kw)
        state.roles.append(
            DesiredRole(
                key=key,
                name=name,
                arn=f"arn:{t.partition}:iam::{t.account}:role{config.path}{name}",
                description=f"migrate-cli {description}"[:1000],
                trust=trust,
                policy=DesiredPolicy(
                    name=name, arn=f"arn:{t.partition}:iam::{t.account}:policy{config.path}{name}", document=document
                ),
                instance_profile="ec2" in assumed_by,
                runner="runner" in assumed_by,
                tags=tags_for(config, key),
            )
        )

    if config.network_reader is not None:
        nr = config.network_reader
        role("network-reader", "Direct Connect / VPN read-only", policies.network_reader(nr, t), nr.assumed_by)
    if config.backup_writer is not None:
        bw = config.backup_writer
        role("backup-writer", f"backup writer for {bw.destination.url}", policies.backup_writer(bw, t), bw.assumed_by)
    if config.glacier_restore is not None:
        gr = config.glacier_restore
        where = ", ".join(loc.url for loc in gr.locations)
        role("glacier-restore", f"Glacier restore for {where}", policies.glacier_restore(gr, t), gr.assumed_by)
    if config.etl is not None:
        etl = config.etl
        sm_arn = t.arn("states", f"stateMachine:{etl.state_machine}")
        role(
            "etl-workflow",
            f"execution role of state machine {etl.state_machine}",
            policies.etl_workflow(etl, t),
            [],
            services=[STATES],
            states_source=(t.account, sm_arn),
        )
        role("etl-runner", f"on-prem runner of {etl.state_machine}", policies.etl_runner(etl, t), ["runner"])

    if with_user:
        runner_roles = [r.arn for r in state.roles if r.runner]
        state.user = DesiredUser(
            name=user_name(config),
            arn=user_arn(config, t),
            policy_name=f"{config.name_prefix}assume-runner-roles",
            policy=policies.assume_roles(runner_roles) if runner_roles else policies.document([]),
            tags=tags_for(config, "runner-user"),
        )
    return state
