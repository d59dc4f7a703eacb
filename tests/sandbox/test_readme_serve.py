"""The README's commands that target `sandbox serve`, run as written against a serve started as the README
starts it, so the README cannot drift: the environment block, the aws CLI commands (the real CLI when this
machine has one, else `aws_cli_shim.py`, boto3 with the CLI's parameter names), awscurl's signed requests to the
REST API and `sandbox run --endpoint`."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.sandbox_support import start_serve

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
MARK = "@@@ done"
pytestmark = pytest.mark.slow  # a serve of the whole template, then every command


def _sandbox_block() -> str:
    blocks = re.findall(r"^```bash\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    return next(b for b in blocks if "# in another shell" in b)


def _serve_args(block: str) -> list[str]:
    """serve's arguments on the README's line, on a free port (the commands get its URL for the README's)."""
    line = next(x for x in block.splitlines() if " sandbox serve --fleet " in x)
    argv = shlex.split(line.split("  #")[0])
    argv[argv.index("--port") + 1] = "0"
    return argv[3:]


def _aws_on_path(tmp_path: Path) -> dict[str, str]:
    """A machine with no AWS config at all: no AWS_* variable, and a HOME without ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    if pyenv.is_dir():  # pyenv's shims find their versions from HOME otherwise
        env["PYENV_ROOT"] = str(pyenv)
    env["HOME"] = str(tmp_path)
    env["PATH"] = f"{ROOT / '.venv/bin'}:{env['PATH']}"
    real = shutil.which("aws")
    if real is None or subprocess.run([real, "--version"], capture_output=True, env=env).returncode != 0:
        shim = tmp_path / "aws"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests/sandbox/aws_cli_shim.py"}" "$@"\n')
        shim.chmod(0o755)
        env["PATH"] = f"{tmp_path}:{env['PATH']}"
    return env


def test_the_readme_commands_against_serve_run_as_written(tmp_path):
    block = _sandbox_block()
    env = _aws_on_path(tmp_path)
    proc, url, banner = start_serve(_serve_args(block), env, tmp_path / "serve.log")
    try:
        commands = block.split("# in another shell", 1)[1].splitlines()[1:]
        export = next(c for c in commands if c.startswith("export "))
        assert export.replace("http://127.0.0.1:5055", url) in banner  # the whole environment serve prints
        script = "set -eo pipefail\n" + "".join(
            f"{c.replace('http://127.0.0.1:5055', url)}\necho '{MARK}'\n" for c in commands if c.strip()
        )
        done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (done.stdout, done.stderr)
        outputs = dict(zip([c for c in commands if c.strip()], done.stdout.split(MARK + "\n"), strict=False))
        _check_outputs(outputs, banner)
        _run_on_demand_commands(banner, url, env, tmp_path)
        _run_api_commands(banner, env)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def _check_outputs(outputs: dict[str, str], banner: str) -> None:
    assert len(outputs) >= 8, outputs
    for command, out in outputs.items():
        if command.startswith("aws stepfunctions start-execution"):
            assert re.search(r'"executionArn": "arn:aws:states:\S+:[0-9a-f-]{36}"', out), out
        elif command.startswith("aws apigateway get-rest-apis"):
            assert "drs-fleet-sync-api" in out, out
        elif " awscurl " in f" {command}" or command.startswith(".venv/bin/awscurl"):
            body = json.loads(out)
            assert "message" not in body, (command, body)  # no API Gateway refusal
            assert body.get("regions") or body.get("executionArn"), body
        elif "--endpoint" in command:
            assert re.match(r"inventory  SUCCEEDED\n", out), out
    # the served sandbox keeps its state between runs: its second inventory is the filtered one
    endpoint_runs = [out for command, out in outputs.items() if "--endpoint" in command]
    assert [re.search(r"^  decision\s+(\S+)", out, re.MULTILINE).group(1) for out in endpoint_runs] == [  # type: ignore[union-attr]
        "fallback_empty",
        "filtered",
    ], endpoint_runs
    rest_api = re.search(r"REST API .*: (http://\S+)", banner)
    assert rest_api and rest_api.group(1).endswith("/v1/_user_request_")


def _block_of(heading: str) -> list[str]:
    """The commands of the first bash block under `heading`, continuation lines joined."""
    section = README[README.index(heading) :]
    block = re.search(r"^```bash\n(.*?)^```", section, re.MULTILINE | re.DOTALL).group(1)  # type: ignore[union-attr]
    return [c for c in block.replace("\\\n", " ").splitlines() if c.strip() and not c.startswith("#")]


def _run_on_demand_commands(banner: str, url: str, env: dict[str, str], tmp_path: Path) -> None:
    """Its `aws` lines, with the stack outputs serve prints in place of a deployed stack's; `sam remote invoke`
    needs a CloudFormation stack, which the README says."""
    commands = _block_of("## Running a sync")
    aws = [c for c in commands if c.startswith("aws ")]
    assert len(aws) >= 6 and all(c.startswith("sam remote invoke ") for c in commands if c not in aws), commands
    assert "`sam remote invoke` needs the deployed stack" in " ".join(README.split())
    exports = [line.strip() for line in banner.splitlines() if line.strip().startswith("export ")]
    v1 = subprocess.run(["aws", "--version"], capture_output=True, text=True, env=env).stdout.startswith("aws-cli/1.")
    for command in aws:
        if v1:  # as the README says for CLI v1
            command = command.replace(" --cli-binary-format raw-in-base64-out", "")
        command = command.replace(" out.json", f" {tmp_path / 'out.json'}")
        script = "set -eo pipefail\n" + "\n".join(e.replace("http://127.0.0.1:5055", url) for e in exports) + "\n"
        done = subprocess.run(["bash", "-c", script + command], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        if command.startswith("aws stepfunctions start-execution"):
            assert json.loads(done.stdout)["executionArn"].startswith("arn:aws:states:"), done.stdout
        else:  # the direct invocation started its sync
            assert json.loads((tmp_path / "out.json").read_text())["executionArn"], done.stdout


def _run_api_commands(banner: str, env: dict[str, str]) -> None:
    """The API section's block: `API` is the stack's ApiUrl output there, serve's stage URL here."""
    commands = _block_of("## API")
    assert commands[0].startswith("API=$(aws cloudformation describe-stacks ") and "ApiUrl" in commands[0]
    stage = re.search(r"REST API .*: (http://\S+)", banner).group(1)  # type: ignore[union-attr]
    curls = [c for c in commands[1:] if c.startswith("awscurl ")]
    assert len(curls) == 2 and all(c.startswith(("awscurl ", "sam remote invoke ")) for c in commands[1:])
    for command in curls:
        done = subprocess.run(
            ["bash", "-c", f"set -eo pipefail\nexport {_export_line(banner)}\nAPI={stage}\n{command}"],
            cwd=ROOT,
            env={**env, "PATH": f"{ROOT / '.venv/bin'}:{env['PATH']}"},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, (command, done.stderr)
        body = json.loads(done.stdout)
        assert "message" not in body and (body.get("servers") or body.get("executionArn")), body


def _export_line(banner: str) -> str:
    """serve's environment line (the endpoint and the keys), without `export`."""
    line = next(x for x in banner.splitlines() if "export AWS_ENDPOINT_URL=" in x)
    return line.strip().removeprefix("export ")


def test_the_readmes_live_serve_fires_the_schedules(tmp_path):
    """`sandbox serve --speed 60` as the README gives it (on a free port): a 5-minute schedule fires within
    seconds, and its execution is there to list."""
    line = next(x for x in _sandbox_block().splitlines() if " sandbox serve --speed " in x)
    args = [*shlex.split(line.split("  #")[0])[3:], "--port", "0"]
    proc, url, banner = start_serve(args, _aws_on_path(tmp_path), tmp_path / "serve.log")
    try:
        creds = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        sfn = boto3.client("stepfunctions", endpoint_url=url, **creds)
        arn = re.search(r"^  staging\s+(arn:\S+)$", banner, re.MULTILINE).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 60  # 5 minutes at 60x is 5 s
        while not sfn.list_executions(stateMachineArn=arn)["executions"]:
            assert time.monotonic() < deadline, "no staging run started within a minute at 60x"
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_make_console_serves_the_demos_runs(tmp_path):
    """`make console` (the README's first block) is `sandbox serve --demo`: the demo's runs, then the console."""
    recipe = re.search(r"^console:.*\n\t\$\(VENV\)/bin/drs-fleet-sync (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe and "make console" in README
    args = [*shlex.split(recipe.group(1))[2:], "--port", "0"]
    proc, url, banner = start_serve(args, _aws_on_path(tmp_path), tmp_path / "serve.log")
    try:
        with urllib.request.urlopen(f"{url}/console/", timeout=30) as page:  # the local serve
            assert page.status == 200
        creds = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        sfn = boto3.client("stepfunctions", endpoint_url=url, **creds)
        arn = re.search(r"^  inventory\s+(arn:\S+)$", banner, re.MULTILINE).group(1)  # type: ignore[union-attr]
        runs = sfn.list_executions(stateMachineArn=arn)["executions"]
        assert len(runs) >= 2 and {r["status"] for r in runs} == {"SUCCEEDED"}, runs  # first and filtered
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
