"""What exists in IAM now, for the principals the configuration names (read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrate_cli.iam.calls import call, get_or_none, paginate
from migrate_cli.iam.config import OWNER_TAG


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def owned(tags: dict[str, str]) -> bool:
    """True when migrate-cli created it (and so may change it)."""
    return tags.get(OWNER_TAG[0]) == OWNER_TAG[1]


@dataclass
class RoleState:
    name: str
    path: str
    arn: str
    description: str
    trust: dict[str, Any]
    tags: dict[str, str]
    attached: list[str] = field(default_factory=list)  # managed policy ARNs
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)  # inline policy name -> document


@dataclass
class PolicyVersion:
    version_id: str
    is_default: bool
    created: Any


@dataclass
class PolicyState:
    arn: str
    tags: dict[str, str]
    default_version: str
    document: dict[str, Any]
    versions: list[PolicyVersion]


@dataclass
class InstanceProfileState:
    name: str
    path: str
    tags: dict[str, str]
    roles: list[str]


@dataclass
class UserState:
    name: str
    path: str
    arn: str
    tags: dict[str, str]
    inline: dict[str, dict[str, Any]]
    attached: list[str]
    access_keys: list[tuple[str, str]]  # (access key id, status)


class IamReader:
    """Reads roles, policies, instance profiles and users through one IAM client."""

    def __init__(self, iam: Any) -> None:
        self.iam = iam

    def role(self, name: str) -> RoleState | None:
        resp = get_or_none(self.iam.get_role, RoleName=name)
        if resp is None:
            return None
        role = resp["Role"]
        tags = _tags(role.get("Tags"))
        if "Tags" not in role:  # older endpoints leave tags out of GetRole
            tags = _tags(paginate(self.iam, "list_role_tags", "Tags", RoleName=name))
        return RoleState(
            name=role["RoleName"],
            path=role.get("Path", "/"),
            arn=role["Arn"],
            description=role.get("Description", "") or "",
            trust=role.get("AssumeRolePolicyDocument") or {},
            tags=tags,
            attached=[
                p["PolicyArn"]
                for p in paginate(self.iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
            ],
            inline={
                policy_name: call(self.iam.get_role_policy, RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                for policy_name in paginate(self.iam, "list_role_policies", "PolicyNames", RoleName=name)
            },
        )

    def policy(self, arn: str) -> PolicyState | None:
        resp = get_or_none(self.iam.get_policy, PolicyArn=arn)
        if resp is None:
            return None
        policy = resp["Policy"]
        default = policy["DefaultVersionId"]
        version = call(self.iam.get_policy_version, PolicyArn=arn, VersionId=default)["PolicyVersion"]
        versions = [
            PolicyVersion(v["VersionId"], bool(v.get("IsDefaultVersion")), v.get("CreateDate"))
            for v in paginate(self.iam, "list_policy_versions", "Versions", PolicyArn=arn)
        ]
        tags = (
            _tags(policy.get("Tags"))
            if "Tags" in policy
            else _tags(paginate(self.iam, "list_policy_tags", "Tags", PolicyArn=arn))
        )
        return PolicyState(
            arn=arn, tags=tags, default_version=default, document=version.get("Document") or {}, versions=versions
        )

    def instance_profile(self, name: str) -> InstanceProfileState | None:
        resp = get_or_none(self.iam.get_instance_profile, InstanceProfileName=name)
        if resp is None:
            return None
        profile = resp["InstanceProfile"]
        return InstanceProfileState(
            name=profile["InstanceProfileName"],
            path=profile.get("Path", "/"),
            tags=_tags(profile.get("Tags")),
            roles=[r["RoleName"] for r in profile.get("Roles", [])],
        )

    def user(self, name: str) -> UserState | None:
        resp = get_or_none(self.iam.get_user, UserName=name)
        if resp is None:
            return None
        user = resp["User"]
        tags = (
            _tags(user.get("Tags"))
            if "Tags" in user
            else _tags(paginate(self.iam, "list_user_tags", "Tags", UserName=name))
        )
        inline = {
            policy_name: call(self.iam.get_user_policy, UserName=name, PolicyName=policy_name)["PolicyDocument"]
            for policy_name in paginate(self.iam, "list_user_policies", "PolicyNames", UserName=name)
        }
        return UserState(
            name=user["UserName"],
            path=user.get("Path", "/"),
            arn=user["Arn"],
            tags=tags,
            inline=inline,
            attached=[
                p["PolicyArn"]
                for p in paginate(self.iam, "list_attached_user_policies", "AttachedPolicies", UserName=name)
            ],
            access_keys=[
                (k["AccessKeyId"], k.get("Status", "Active"))
                for k in paginate(self.iam, "list_access_keys", "AccessKeyMetadata", UserName=name)
            ],
        )

    def owned_role_names(self, path: str) -> list[str]:
        """Roles under `path` tagged as migrate-cli's (for reporting ones no longer configured)."""
        names = []
        for role in paginate(self.iam, "list_roles", "Roles", PathPrefix=path):
            if role.get("Path") != path:
                continue
            tags = _tags(paginate(self.iam, "list_role_tags", "Tags", RoleName=role["RoleName"]))
            if owned(tags):
                names.append(role["RoleName"])
        return names
