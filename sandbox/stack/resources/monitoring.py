"""AWS::CloudWatch::Alarm, ::Dashboard and AWS::SNS::Topic."""

from __future__ import annotations

from typing import Any

from ..model import DeployContext, Resource, json_text, tags_list

_ALARM_KEYS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def create_alarm(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "AlarmName", lid, 255)
    kw = {k: p[k] for k in _ALARM_KEYS if k in p}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in kw:
            kw[key] = int(kw[key])
    if "Threshold" in kw:
        kw["Threshold"] = float(kw["Threshold"])
    if "Metrics" in kw:
        kw["Metrics"] = [{**m, "Period": int(m["Period"])} if "Period" in m else m for m in kw["Metrics"]]
    d.client("cloudwatch").put_metric_alarm(AlarmName=name, **kw)
    arn = f"arn:aws:cloudwatch:{d.region}:{d.account}:alarm:{name}"
    return Resource(lid, "AWS::CloudWatch::Alarm", name, {"Arn": arn})


def create_dashboard(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "DashboardName", lid, 255)
    d.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=json_text(p["DashboardBody"]))
    return Resource(lid, "AWS::CloudWatch::Dashboard", name)


def create_topic(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "TopicName", lid, 256)
    kw: dict[str, Any] = {"Name": name}
    if p.get("Tags"):
        kw["Tags"] = tags_list(p["Tags"])
    arn = d.client("sns").create_topic(**kw)["TopicArn"]
    for sub in p.get("Subscription") or []:
        d.client("sns").subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return Resource(lid, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})
