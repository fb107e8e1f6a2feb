"""Compare the desired IAM state with what exists and list the exact calls apply will make.

Ownership: only principals tagged `managed-by=migrate-cli` are changed. A role, policy, instance profile
or user with a configured name that exists without the tag is a conflict: it is reported, nothing about
it (or the role built on it) is planned, and apply refuses (exit 3) until it is renamed or removed.

On a role migrate-cli owns, the configuration is the whole truth: its one managed policy stays attached,
any other attached policy is detached and any inline policy deleted, so the role never holds more than
the plan shows. Tags others add are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from migrate_cli.aws.session import client
from migrate_cli.core.errors import ConfigError
from migrate_cli.iam import documents, validate
from migrate_cli.iam.config import IamConfig
from migrate_cli.iam.current import IamReader, RoleState, owned
from migrate_cli.iam.desired import DesiredRole, DesiredState, DesiredUser, build, user_name
from migrate_cli.iam.ops import CREATE_ACCESS_KEY, Op, missing_tags, tag_list
from migrate_cli.iam.target import Target, resolve_target

MAX_POLICY_VERSIONS = 5


@dataclass
class IamPlan:
    """What apply will do, and why. `ops` run in order; `diff` holds every document's unified diff."""

    target: Target
    desired: DesiredState
    config_file: str | None
    ops: list[Op] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # principal -> create | update | unchanged | conflict
    key_file: Path | None = None
    session: boto3.Session | None = field(default=None, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.ops)

    @property
    def disruptive(self) -> list[Op]:
        return [op for op in self.ops if op.disruptive]

    @property
    def diff(self) -> str:
        return "".join(self.diffs)

    def documents(self) -> dict[str, dict[str, Any]]:
        return {label: doc for label, _, doc in self.desired.documents()}

    def exceptions(self) -> list[dict[str, str]]:
        """Actions granted on '*' and why AWS requires it."""
        out = []
        for label, kind, doc in self.desired.documents():
            if kind != "trust":
                for action, reason in validate.unscoped_exceptions(doc):
                    out.append({"document": label, "action": action, "reason": reason})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (documents included; never a secret: none is known at plan time)."""
        return {
            "account": self.target.account,
            "region": self.target.region,
            "partition": self.target.partition,
            "config": self.config_file,
            "principals": self.statuses,
            "changes": [op.to_dict() for op in self.ops],
            "disruptive": len(self.disruptive),
            "conflicts": self.conflicts,
            "notes": self.notes,
            "unscoped_exceptions": self.exceptions(),
            "documents": self.documents(),
            "access_key_file": str(self.key_file) if self.key_file else None,
        }


def plan_iam(
    config: IamConfig,
    *,
    with_access_key: bool = False,
    key_dir: Path = Path(".migrate/iam"),
    session: boto3.Session | None = None,
) -> IamPlan:
    """Read IAM (nothing is changed) and plan the configuration; ConfigError when it cannot be valid."""
    target, session = resolve_target(config, session)
    reader = IamReader(client("iam", session, region_name=target.region))
    return Planner(config, target, reader, session).plan(with_access_key, key_dir)


class Planner:
    def __init__(self, config: IamConfig, target: Target, reader: IamReader, session: boto3.Session | None) -> None:
        self.config = config
        self.target = target
        self.reader = reader
        self.session = session

    def plan(self, with_access_key: bool, key_dir: Path) -> IamPlan:
        config = self.config
        uname = user_name(config)
        user_state = self.reader.user(uname)
        user_conflict = user_state is not None and not owned(user_state.tags)
        with_user = not user_conflict and (with_access_key or user_state is not None)
        desired = build(config, self.target, with_user=with_user)
        if desired.user is not None and not any(r.runner for r in desired.roles):
            why = "--with-access-key" if with_access_key else f"user {uname} exists (made by --with-access-key)"
            raise ConfigError(
                f"{why}: no role is `assumed_by: [runner]`, so the runner user would have nothing to assume "
                "(add runner to a role's assumed_by, or delete the user)",
                file=config.source,
            )
        problems = validate.all_problems(desired.documents())
        if problems:
            raise ConfigError(
                "generated policies fail validation: " + "; ".join(str(p) for p in problems), file=config.source
            )
        plan = IamPlan(target=self.target, desired=desired, config_file=config.source, session=self.session)
        if user_conflict:
            plan.conflicts.append(_not_ours("user", uname))
            plan.statuses[f"user/{uname}"] = "conflict"
        elif desired.user is not None:
            self._user(plan, desired.user, user_state, with_access_key, key_dir)
        for role in desired.roles:
            self._role(plan, role)
        # the access key last: it is only created once everything it is for exists
        plan.ops.sort(key=lambda op: op.call == CREATE_ACCESS_KEY)
        self._orphans(plan)
        return plan

    # ------------------------------------------------------------------------------------------ user

    def _user(self, plan: IamPlan, user: DesiredUser, state: Any, with_access_key: bool, key_dir: Path) -> None:
        who = f"user/{user.name}"
        before = len(plan.ops)
        if state is None:
            plan.ops.append(
                Op(
                    who,
                    f"create user (path {self.config.path})",
                    "create_user",
                    {"UserName": user.name, "Path": self.config.path, "Tags": tag_list(user.tags)},
                )
            )
            current_policy = None
        else:
            if state.path != self.config.path:
                plan.conflicts.append(f"user {user.name} is at path {state.path}, not {self.config.path}")
                plan.statuses[who] = "conflict"
                return
            tags = missing_tags(state.tags, user.tags)
            if tags:
                plan.ops.append(
                    Op(who, f"tag {_keys(tags)}", "tag_user", {"UserName": user.name, "Tags": tag_list(tags)})
                )
            current_policy = state.inline.get(user.policy_name)
            for name in sorted(set(state.inline) - {user.policy_name}):
                plan.diffs.append(documents.unified_diff(f"{who}/inline-policy/{name}", state.inline[name], None))
                plan.ops.append(
                    Op(
                        who,
                        f"delete inline policy {name} (not in the configuration)",
                        "delete_user_policy",
                        {"UserName": user.name, "PolicyName": name},
                        disruptive=True,
                    )
                )
            for arn in state.attached:
                plan.ops.append(
                    Op(
                        who,
                        f"detach {arn} (not in the configuration)",
                        "detach_user_policy",
                        {"UserName": user.name, "PolicyArn": arn},
                        disruptive=True,
                    )
                )
        label = f"user/{user.name}/inline-policy/{user.policy_name}"
        if not documents.same(current_policy, user.policy):
            plan.diffs.append(documents.unified_diff(label, current_policy, user.policy))
            verb = "put" if current_policy is None else "replace"
            plan.ops.append(
                Op(
                    who,
                    f"{verb} inline policy {user.policy_name}",
                    "put_user_policy",
                    {
                        "UserName": user.name,
                        "PolicyName": user.policy_name,
                        "PolicyDocument": documents.compact(user.policy),
                    },
                    disruptive=current_policy is not None,
                )
            )
        if with_access_key:
            keys = state.access_keys if state is not None else []
            if keys:
                ids = ", ".join(k for k, _ in keys)
                plan.notes.append(
                    f"user {user.name} already has access key {ids}: not creating another "
                    "(delete it in IAM first to get a new one)"
                )
            else:
                plan.key_file = key_dir / f"{user.name}.credentials"
                plan.ops.append(
                    Op(
                        who,
                        f"create access key (secret written to {plan.key_file}, mode 0600)",
                        CREATE_ACCESS_KEY,
                        {"UserName": user.name},
                    )
                )
        plan.statuses[who] = "create" if state is None else ("update" if len(plan.ops) > before else "unchanged")

    # ------------------------------------------------------------------------------------------ roles

    def _role(self, plan: IamPlan, role: DesiredRole) -> None:
        who = f"role/{role.name}"
        role_state = self.reader.role(role.name)
        policy_state = self.reader.policy(role.policy.arn)
        profile = self.reader.instance_profile(role.name)
        conflicts = []
        if role_state is not None and not owned(role_state.tags):
            conflicts.append(_not_ours("role", role.name))
        elif role_state is not None and role_state.path != self.config.path:
            conflicts.append(
                f"role {role.name} is at path {role_state.path}, not {self.config.path}: IAM cannot move a role "
                f"(set path: {role_state.path}, or delete the role)"
            )
        if policy_state is not None and not owned(policy_state.tags):
            conflicts.append(_not_ours("policy", role.policy.arn))
        if profile is not None and not owned(profile.tags) and (role.instance_profile or role.name in profile.roles):
            conflicts.append(_not_ours("instance profile", role.name))
        if conflicts:
            plan.conflicts.extend(conflicts)
            plan.statuses[who] = "conflict"
            return
        before = len(plan.ops)
        self._policy(plan, role, policy_state)
        self._role_itself(plan, role, role_state)
        self._attachments(plan, role, role_state)
        self._profile(plan, role, profile)
        desired_summary = _desired_summary(role, role_state, profile, self.config.path)
        plan.diffs.append(documents.json_diff(f"{who}/summary", _summary(role_state, profile), desired_summary))
        plan.statuses[who] = "create" if role_state is None else ("update" if len(plan.ops) > before else "unchanged")

    def _policy(self, plan: IamPlan, role: DesiredRole, state: Any) -> None:
        policy = role.policy
        who = f"policy/{policy.name}"
        current = state.document if state is not None else None
        plan.diffs.append(documents.unified_diff(f"{who}/document", current, policy.document))
        if state is None:
            plan.ops.append(
                Op(
                    who,
                    f"create managed policy (path {self.config.path})",
                    "create_policy",
                    {
                        "PolicyName": policy.name,
                        "Path": self.config.path,
                        "PolicyDocument": documents.compact(policy.document),
                        "Description": f"migrate-cli: permissions of role {role.name}",
                        "Tags": tag_list(role.tags),
                    },
                )
            )
            return
        if not documents.same(current, policy.document):
            if len(state.versions) >= MAX_POLICY_VERSIONS:
                oldest = min((v for v in state.versions if not v.is_default), key=lambda v: (v.created, v.version_id))
                plan.ops.append(
                    Op(
                        who,
                        f"delete oldest non-default version {oldest.version_id} (IAM keeps at most 5)",
                        "delete_policy_version",
                        {"PolicyArn": policy.arn, "VersionId": oldest.version_id},
                    )
                )
            plan.ops.append(
                Op(
                    who,
                    f"new default version replacing {state.default_version}",
                    "create_policy_version",
                    {
                        "PolicyArn": policy.arn,
                        "PolicyDocument": documents.compact(policy.document),
                        "SetAsDefault": True,
                    },
                    disruptive=True,
                )
            )
        tags = missing_tags(state.tags, role.tags)
        if tags:
            plan.ops.append(
                Op(who, f"tag {_keys(tags)}", "tag_policy", {"PolicyArn": policy.arn, "Tags": tag_list(tags)})
            )

    def _role_itself(self, plan: IamPlan, role: DesiredRole, state: RoleState | None) -> None:
        who = f"role/{role.name}"
        current = state.trust if state is not None else None
        plan.diffs.append(documents.unified_diff(f"{who}/trust-policy", current, role.trust))
        user = plan.desired.user
        retry = user is not None and user.arn in _trusted(role.trust)
        if state is None:
            plan.ops.append(
                Op(
                    who,
                    f"create role (path {self.config.path}), trusted by {_trusted(role.trust)}",
                    "create_role",
                    {
                        "RoleName": role.name,
                        "Path": self.config.path,
                        "AssumeRolePolicyDocument": documents.compact(role.trust),
                        "Description": role.description,
                        "Tags": tag_list(role.tags),
                    },
                    new_principal_retry=retry,
                )
            )
            return
        if not documents.same(current, role.trust):
            plan.ops.append(
                Op(
                    who,
                    f"replace trust policy: trusted by {_trusted(role.trust)}",
                    "update_assume_role_policy",
                    {"RoleName": role.name, "PolicyDocument": documents.compact(role.trust)},
                    disruptive=True,
                    new_principal_retry=retry,
                )
            )
        if state.description != role.description:
            plan.ops.append(
                Op(who, "update description", "update_role", {"RoleName": role.name, "Description": role.description})
            )
        tags = missing_tags(state.tags, role.tags)
        if tags:
            plan.ops.append(Op(who, f"tag {_keys(tags)}", "tag_role", {"RoleName": role.name, "Tags": tag_list(tags)}))

    def _attachments(self, plan: IamPlan, role: DesiredRole, state: RoleState | None) -> None:
        who = f"role/{role.name}"
        attached = state.attached if state is not None else []
        if role.policy.arn not in attached:
            plan.ops.append(
                Op(
                    who,
                    f"attach policy {role.policy.name}",
                    "attach_role_policy",
                    {"RoleName": role.name, "PolicyArn": role.policy.arn},
                )
            )
        for arn in attached:
            if arn != role.policy.arn:
                plan.ops.append(
                    Op(
                        who,
                        f"detach {arn} (not in the configuration)",
                        "detach_role_policy",
                        {"RoleName": role.name, "PolicyArn": arn},
                        disruptive=True,
                    )
                )
        for name, document in (state.inline if state is not None else {}).items():
            plan.diffs.append(documents.unified_diff(f"{who}/inline-policy/{name}", document, None))
            plan.ops.append(
                Op(
                    who,
                    f"delete inline policy {name} (not in the configuration)",
                    "delete_role_policy",
                    {"RoleName": role.name, "PolicyName": name},
                    disruptive=True,
                )
            )

    def _profile(self, plan: IamPlan, role: DesiredRole, profile: Any) -> None:
        who = f"instance-profile/{role.name}"
        if role.instance_profile:
            if profile is None:
                plan.ops.append(
                    Op(
                        who,
                        f"create instance profile (path {self.config.path})",
                        "create_instance_profile",
                        {"InstanceProfileName": role.name, "Path": self.config.path, "Tags": tag_list(role.tags)},
                    )
                )
            roles = profile.roles if profile is not None else []
            for other in roles:
                if other != role.name:
                    plan.ops.append(
                        Op(
                            who,
                            f"remove role {other}",
                            "remove_role_from_instance_profile",
                            {"InstanceProfileName": role.name, "RoleName": other},
                            disruptive=True,
                        )
                    )
            if role.name not in roles:
                plan.ops.append(
                    Op(
                        who,
                        f"add role {role.name}",
                        "add_role_to_instance_profile",
                        {"InstanceProfileName": role.name, "RoleName": role.name},
                    )
                )
            if profile is not None:
                tags = missing_tags(profile.tags, role.tags)
                if tags:
                    plan.ops.append(
                        Op(
                            who,
                            f"tag {_keys(tags)}",
                            "tag_instance_profile",
                            {"InstanceProfileName": role.name, "Tags": tag_list(tags)},
                        )
                    )
        elif profile is not None and role.name in profile.roles:
            plan.ops.append(
                Op(
                    who,
                    f"remove role {role.name} (ec2 is no longer in assumed_by)",
                    "remove_role_from_instance_profile",
                    {"InstanceProfileName": role.name, "RoleName": role.name},
                    disruptive=True,
                )
            )

    def _orphans(self, plan: IamPlan) -> None:
        wanted = {r.name for r in plan.desired.roles}
        for name in self.reader.owned_role_names(self.config.path):
            if name not in wanted:
                plan.notes.append(
                    f"role {name} is managed by migrate-cli but not in the configuration: left as it is "
                    "(delete it by hand when nothing uses it)"
                )


def _not_ours(kind: str, name: str) -> str:
    return f"{kind} {name} exists and is not managed by migrate-cli (no managed-by=migrate-cli tag): not touching it"


def _keys(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _trusted(trust: dict[str, Any]) -> str:
    who = []
    for st in trust.get("Statement", []):
        for values in st.get("Principal", {}).values():
            who += values if isinstance(values, list) else [values]
    return ", ".join(who)


def _summary(state: RoleState | None, profile: Any) -> dict[str, Any] | None:
    """A role as one JSON document (path, description, tags, policies, instance profile) for the diff."""
    if state is None:
        return None
    return {
        "Path": state.path,
        "Description": state.description,
        "Tags": dict(sorted(state.tags.items())),
        "AttachedPolicies": sorted(state.attached),
        "InlinePolicies": sorted(state.inline),
        "InstanceProfileRoles": sorted(profile.roles) if profile is not None else None,
    }


def _desired_summary(role: DesiredRole, state: RoleState | None, profile: Any, path: str) -> dict[str, Any]:
    tags = {**(state.tags if state is not None else {}), **role.tags}
    if role.instance_profile:
        profile_roles: list[str] | None = [role.name]
    elif profile is not None:
        profile_roles = sorted(r for r in profile.roles if r != role.name)
    else:
        profile_roles = None
    return {
        "Path": path,
        "Description": role.description,
        "Tags": dict(sorted(tags.items())),
        "AttachedPolicies": [role.policy.arn],
        "InlinePolicies": [],
        "InstanceProfileRoles": profile_roles,
    }
