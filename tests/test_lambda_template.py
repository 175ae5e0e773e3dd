"""infra/lambda/template.yaml: valid for CloudFormation (cfn-lint, SAM transform included),
and wired to what the code has — handlers, routes, S3 events and schedules."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import yaml

from parley.routing import ROUTES
from shared.scheduler import JOBS

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "lambda" / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Reads !Ref, !Sub and friends as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


CloudFormationLoader.add_multi_constructor("!", _any_tag)


def functions() -> dict[str, Any]:
    template = yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # noqa: S506
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_cfn_lint_accepts_the_template():
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert matches == [], "\n".join(str(m) for m in matches)


def test_each_function_runs_its_handler_and_serves_its_paths():
    served: dict[str, str] = {}
    for props in functions().values():
        [target] = props["ImageConfig"]["Command"]
        module, attribute = target.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), attribute)), target
        name = module.split(".")[1]
        for event in props["Events"].values():
            if event["Type"] == "HttpApi":
                served[event["Properties"]["Path"].removesuffix("/{proxy+}")] = name
    assert {prefix: name for prefix, name in ROUTES} == {
        path: name for path, name in served.items() if path != "/readyz"
    }


def test_the_bucket_events_go_to_ingest_and_each_schedule_to_a_function_that_runs_it():
    scheduled: list[str] = []
    s3_events: list[str] = []
    for props in functions().values():
        module = importlib.import_module(props["ImageConfig"]["Command"][0].rsplit(".", 1)[0])
        for event in props["Events"].values():
            if event["Type"] == "ScheduleV2":
                job = json.loads(event["Properties"]["Input"])["parley_job"]
                assert job in module.JOBS, (module.__name__, job)
                scheduled.append(job)
            elif event["Type"] == "S3":
                assert module.__name__ == "functions.ingest.app"
                s3_events.append(event["Properties"]["Events"])
    assert sorted(scheduled) == sorted(JOBS)
    assert sorted(s3_events) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
