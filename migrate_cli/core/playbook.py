"""Playbooks: YAML runbooks of steps, validated whole (with FILE:LINE errors) before anything runs."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from migrate_cli.core.actions import Action, ActionParams, get_action
from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.inventory import Inventory
from migrate_cli.core.limits import parse_limit
from migrate_cli.core.yamlio import LineDict, LineList, line_of, load_yaml

OnFailure = Literal["stop", "continue", "rollback"]


class _StepModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1)
    action: str = Field(min_length=1)
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    hosts: str | None = None
    tags: list[str] = Field(default_factory=list)
    disruptive: bool = False
    on_failure: OnFailure = "stop"


class _PlaybookModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    vars: dict[str, Any] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    action: str
    action_cls: type[Action]
    params: ActionParams
    hosts: str | None
    tags: frozenset[str]
    disruptive: bool
    on_failure: OnFailure
    line: int


@dataclass(frozen=True)
class Playbook:
    path: Path
    name: str
    vars: dict[str, Any]
    steps: tuple[Step, ...]
    sha256: str


@functools.cache
def _jinja() -> Any:
    """The template environment, made on first use (jinja2 costs start-up time most commands never need)."""
    import jinja2
    from jinja2.nativetypes import NativeEnvironment

    return jinja2, NativeEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class _TemplateFailure(Exception):
    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _render(value: Any, context: dict[str, Any], loc: tuple[Any, ...] = ()) -> Any:
    """Render `{{ }}` in strings (native types: a lone expression may yield a list or a number)."""
    if isinstance(value, str) and "{{" in value:
        jinja2, env = _jinja()
        try:
            result = env.from_string(value).render(context)
            if isinstance(result, jinja2.Undefined):
                str(result)  # StrictUndefined raises here, naming the variable
        except jinja2.TemplateError as exc:
            raise _TemplateFailure(loc, str(exc)) from None
        return result
    if isinstance(value, dict):
        return {k: _render(v, context, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context, (*loc, i)) for i, v in enumerate(value)]
    return value


def _pydantic_errors(exc: ValidationError, data: Any, path: Path, prefix: str = "") -> list[ConfigError]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc)
        what = f"{prefix}{field}: " if field else prefix
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        out.append(ConfigError(f"{what}{message}", file=path, line=line_of(data, loc)))
    return out


def load_playbook(path: Path, inventory: Inventory) -> Playbook:
    """Load, template and validate a whole playbook; raise ConfigErrors listing every problem."""
    raw = load_yaml(path)
    if not isinstance(raw, LineDict):
        raise ConfigError("a playbook is a mapping with 'name' and 'steps'", file=path, line=1)
    try:
        model = _PlaybookModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigErrors(_pydantic_errors(exc, raw, path)) from None

    context = {"vars": model.vars, **model.vars, "defaults": dict(inventory.defaults.data)}
    errors: list[ConfigError] = []
    steps: list[Step] = []
    raw_steps: LineList = raw["steps"]
    for index, raw_step in enumerate(raw_steps):
        line = raw_steps.item_lines[index]
        if not isinstance(raw_step, LineDict):
            errors.append(ConfigError(f"steps[{index}]: a step is a mapping", file=path, line=line))
            continue
        step = _load_step(index, raw_step, path, inventory, context, errors)
        if step is not None:
            steps.append(step)
    if errors:
        raise ConfigErrors(errors)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Playbook(path=path, name=model.name, vars=model.vars, steps=tuple(steps), sha256=digest)


def _load_step(
    index: int,
    raw: LineDict,
    path: Path,
    inventory: Inventory,
    context: dict[str, Any],
    errors: list[ConfigError],
) -> Step | None:
    where = f"steps[{index}]."
    try:
        model = _StepModel.model_validate(raw)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, raw, path, where))
        return None
    try:
        action_cls = get_action(model.action)
    except KeyError as exc:
        errors.append(ConfigError(f"{where}action: {exc.args[0]}", file=path, line=line_of(raw, ("action",))))
        return None
    step_ok = True
    if model.hosts is not None:
        try:
            parse_limit(model.hosts)
            inventory.select(model.hosts)
        except ConfigError as exc:
            errors.append(ConfigError(f"{where}hosts: {exc.message}", file=path, line=line_of(raw, ("hosts",))))
            step_ok = False
    raw_with = raw.get("with") or LineDict()
    try:
        rendered = _render(model.with_, context)
    except _TemplateFailure as exc:
        field = ".".join(str(p) for p in exc.loc)
        errors.append(
            ConfigError(
                f"{where}with.{field}: template error: {exc.message}",
                file=path,
                line=line_of(raw_with, exc.loc),
            )
        )
        return None
    try:
        params = action_cls.Params.model_validate(rendered)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc)
            message = "unknown parameter" if err["type"] == "extra_forbidden" else err["msg"]
            line = line_of(raw_with, loc) if raw_with else line_of(raw, ("with",))
            label = f"with.{field}" if field else "with"
            errors.append(ConfigError(f"{where}{label}: {message}", file=path, line=line))
        return None
    if not step_ok:
        return None
    return Step(
        index=index,
        name=model.name,
        action=model.action,
        action_cls=action_cls,
        params=params,
        hosts=model.hosts,
        tags=frozenset(model.tags),
        disruptive=model.disruptive or action_cls.disruptive,
        on_failure=model.on_failure,
        line=raw.line,
    )
