"""AWS::StepFunctions::StateMachine (definitions with their substitutions, into the executing backend),
AWS::Scheduler::Schedule and AWS::Logs::LogGroup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..model import DeployContext, DeployError, Resource, env_text, tags_dict, tags_list


def _definition_text(d: DeployContext, lid: str, p: dict[str, Any]) -> tuple[str, Path | None]:
    location = p.get("DefinitionS3Location")
    if location:
        local = d.t.local_artifact(location.get("Bucket"), location.get("Key"))
        if local is None:
            raise DeployError(f"{lid}: the sandbox reads definitions from a local DefinitionUri, got {location}")
        return local.read_text(), local
    if "DefinitionString" in p:
        return str(p["DefinitionString"]), None
    if "Definition" in p:
        return json.dumps(p["Definition"]), None
    raise DeployError(f"{lid}: state machine without a definition")


def substitute(definition: str, substitutions: dict[str, Any]) -> str:
    """Step Functions' DefinitionSubstitutions: replace `${key}` in the definition text."""
    for key, value in substitutions.items():
        text = json.dumps(value) if isinstance(value, (dict, list)) else env_text(value)
        definition = definition.replace("${" + key + "}", text)
    return definition


def _logging(conf: dict[str, Any]) -> dict[str, Any]:
    return {
        "level": conf.get("Level", "OFF"),
        "includeExecutionData": bool(conf.get("IncludeExecutionData", False)),
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": dest["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
            for dest in conf.get("Destinations") or []
        ],
    }


def create_state_machine(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    sfn = d.client("stepfunctions")
    name = d.name_for(p, "StateMachineName", lid, 80, prefix=False)
    raw, local = _definition_text(d, lid, p)
    substitutions = p.get("DefinitionSubstitutions") or {}
    definition = substitute(raw, substitutions)
    kw: dict[str, Any] = {"name": name, "definition": definition, "roleArn": p["RoleArn"]}
    if p.get("StateMachineType"):
        kw["type"] = p["StateMachineType"]
    if p.get("LoggingConfiguration"):
        kw["loggingConfiguration"] = _logging(p["LoggingConfiguration"])
    if p.get("TracingConfiguration"):
        kw["tracingConfiguration"] = {"enabled": bool(p["TracingConfiguration"].get("Enabled"))}
    if p.get("Tags"):
        kw["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tags_list(p["Tags"])]
    try:
        arn = sfn.create_state_machine(**kw)["stateMachineArn"]
    except Exception as exc:
        where = f" ({local})" if local else ""
        raise DeployError(f"state machine {lid}{where} rejected by the Step Functions parser: {exc}") from exc
    attrs = {"Arn": arn, "Name": name, "Definition": definition, "DefinitionSubstitutions": substitutions}
    return Resource(lid, "AWS::StepFunctions::StateMachine", arn, attrs, local_path=local)


def create_schedule(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "Name", lid, 64)
    kw: dict[str, Any] = {
        "Name": name,
        "ScheduleExpression": p["ScheduleExpression"],
        "FlexibleTimeWindow": p.get("FlexibleTimeWindow") or {"Mode": "OFF"},
        "Target": p["Target"],
    }
    for key in ("GroupName", "Description", "State", "ScheduleExpressionTimezone", "StartDate", "EndDate"):
        if key in p:
            kw[key] = p[key]
    arn = d.client("scheduler").create_schedule(**kw)["ScheduleArn"]
    return Resource(lid, "AWS::Scheduler::Schedule", name, {"Arn": arn})


def create_log_group(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    logs = d.client("logs")
    name = d.name_for(p, "LogGroupName", lid, 512)
    kw: dict[str, Any] = {"logGroupName": name}
    if p.get("KmsKeyId"):
        kw["kmsKeyId"] = p["KmsKeyId"]
    if p.get("Tags"):
        kw["tags"] = tags_dict(p["Tags"])
    logs.create_log_group(**kw)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    arn = f"arn:aws:logs:{d.region}:{d.account}:log-group:{name}:*"
    return Resource(lid, "AWS::Logs::LogGroup", name, {"Arn": arn})
