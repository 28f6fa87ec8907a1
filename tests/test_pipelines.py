"""The hourly pipelines in ci/ (GitLab CI, GitHub Actions, Kubernetes, the probe image) are valid for their
schedulers, agree with each other, with the Makefile and with the README, hold no secret, and their commands run.

All offline, no lab: the schemas are the published ones that PyPI packages ship (check-jsonschema's vendored
GitLab CI and GitHub workflow schemas, kubernetes-validate's Kubernetes API schemas), each shown to refuse a
mistake too; the pipelines' commands run as the pipelines run them, against a lake of local directories
(file://). Not here: a real GitLab, GitHub or Kubernetes, and building the image (no container engine)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from lakeprobe.records import read_jsonl
from tests.helpers import PYTHON, REPO, file_lake, lakeprobe_cli, run, run_pytest, user_env

CI = REPO / "ci"
GITLAB = [CI / "gitlab" / ".gitlab-ci.yml", CI / "gitlab" / "round.yml"]
GITHUB = [CI / "github" / "lakeprobe.yml", CI / "github" / "lakeprobe-sweep.yml"]
KUBERNETES = sorted((CI / "kubernetes").glob("*.yaml"))
PIPELINES = GITLAB + GITHUB + KUBERNETES
CONTAINERFILE = CI / "Containerfile"
CHECK_JSONSCHEMA = str(Path(PYTHON).parent / "check-jsonschema")
VENV_BIN = str(Path(PYTHON).parent)
# The oldest Kubernetes the manifests are for (an Indexed Job's backoffLimitPerIndex and FailIndex are on by
# default from 1.29), and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.29", latest_version()]
SECRETS = ("LAKEPROBE_CLIENTS", "LAKEPROBE_CHAT_WEBHOOK", "PGPASSWORD")
CLIENTS_FILE = "/run/lakeprobe/clients.json"


def _docs(path: Path) -> list:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _strings(node) -> list[str]:
    """Every string in a parsed YAML document: scripts, args, values (YAML's folding already undone)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(k) + _strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


# A lakeprobe command line, up to the end of the line or to a shell operator or a comment.
COMMAND = re.compile(r"(?:^|[\s;&|(])((?:pytest suites|lakeprobe (?:report|sweep))\b[^;&|>#`\n]*)")


def commands(text: str) -> list[str]:
    """The lakeprobe command lines in a text (a script, a code block), continuation lines joined, spaces
    normalised."""
    text = re.sub(r"\\\n\s*", " ", text)
    return [" ".join(m.group(1).split()) for line in text.splitlines() for m in COMMAND.finditer(line)]


def pipeline_commands(path: Path) -> list[str]:
    return [c for doc in _docs(path) for s in _strings(doc) for c in commands(s)]


def readme_section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("\n## Running hourly (GitLab, GitHub, Kubernetes, cron)\n")
    return text[start : text.index("\n## ", start + 1)]


def readme_commands() -> list[str]:
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", readme_section(), re.S | re.M)
    return [c for block in blocks for c in commands(block)]


def offline_env(**extra) -> dict:
    """An environment in which any download fails at once (a proxy where nothing listens): a validation that
    passes in it used only what is on this machine."""
    dead = "http://127.0.0.1:9"
    return user_env(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, NO_PROXY="", **extra)


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess:
    return run([CHECK_JSONSCHEMA, "--builtin-schema", schema, *map(str, paths)], offline_env(), timeout=120)


def _job(path: Path, name: str) -> dict:
    return _docs(path)[0][name]


def _cronjob(name: str) -> dict:
    found = [d for p in KUBERNETES for d in _docs(p) if d["kind"] == "CronJob" and d["metadata"]["name"] == name]
    assert len(found) == 1, name
    return found[0]


def _container(cronjob: dict) -> dict:
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict) -> dict:
    return {e["name"]: e for e in container["env"]}


def _script(container: dict) -> str:
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    return script


def _found(pattern: str, text: str, flags: int = 0) -> str:
    """The first group of the pattern's match, which must be there."""
    match = re.search(pattern, text, flags)
    assert match, pattern
    return match[1]


def kubernetes_expand(text: str, env: dict) -> str:
    """What Kubernetes makes of a container's command and args before the shell sees them: $(NAME) is the
    value of the container's variable NAME (left as it is when there is none), $$ is one $."""
    return re.sub(r"\$\$|\$\(([A-Za-z_]\w*)\)", lambda m: "$" if m[0] == "$$" else env.get(m[1], m[0]), text)


# --- the published schemas, offline ---


def test_gitlab_files_match_gitlabs_published_schema():
    proc = check_jsonschema("vendor.gitlab-ci", *GITLAB)
    assert proc.returncode == 0 and "ok -- validation done" in proc.stdout, proc.stdout + proc.stderr


def test_github_workflows_match_the_published_schema():
    proc = check_jsonschema("vendor.github-workflows", *GITHUB)
    assert proc.returncode == 0 and "ok -- validation done" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.name)
def test_kubernetes_manifests_match_the_api_schema(path, version):
    """Strict: a key the API does not have is refused, as `kubectl apply` would drop or refuse it. A kind
    kubernetes-validate has no schema for raises, instead of passing unchecked."""
    for doc in _docs(path):
        kubernetes_validate.validate(doc, version, strict=True)


def _typo(data, path, key, value):
    """`data` with `key` (a path of keys) set to `value`."""
    node = data
    for k in path:
        node = node[k]
    node[key] = value
    return data


MISTAKES = [
    ("vendor.gitlab-ci", GITLAB[0], lambda d: _typo(d, ["round"], "resource_groups", "lakeprobe-round")),
    ("vendor.gitlab-ci", GITLAB[1], lambda d: _typo(d, ["shard"], "parallel", 500)),  # GitLab allows 200
    ("vendor.github-workflows", GITHUB[0], lambda d: _typo(d, ["jobs", "round"], "timeout-minute", 45)),
    ("vendor.github-workflows", GITHUB[0], lambda d: _typo(d, ["jobs", "round", "strategy"], "fail-fast", "no")),
]


@pytest.mark.parametrize("schema, path, change", MISTAKES, ids=["typo", "parallel-500", "typo", "not-a-boolean"])
def test_the_published_schemas_refuse_a_mistake(schema, path, change, tmp_path):
    """The validations above pass because the files are right, not because nothing is checked."""
    wrong = tmp_path / path.name
    wrong.write_text(yaml.safe_dump(change(_docs(path)[0]), sort_keys=False))
    proc = check_jsonschema(schema, wrong)
    assert proc.returncode == 1 and "Schema validation errors" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "change, strict",
    [
        (lambda spec: _typo(spec, [], "parallelizm", 4), True),  # an unknown key
        (lambda spec: _typo(spec, [], "completions", "four"), False),  # a wrong type, even when not strict
    ],
    ids=["typo", "wrong-type"],
)
def test_the_kubernetes_schema_refuses_a_mistake(change, strict):
    cronjob = _cronjob("lakeprobe-round")
    change(cronjob["spec"]["jobTemplate"]["spec"])
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, KUBERNETES_VERSIONS[-1], strict=strict)


# --- each scheduler's settings: a scheduled round in shards, never two at once, then the report ---


def test_gitlab_round_in_shards_never_overlapping_then_the_report():
    parent = _docs(GITLAB[0])[0]
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in parent["workflow"]["rules"]
    shards = int(parent["variables"]["LAKEPROBE_SHARDS"])
    # The round: a child pipeline behind one resource group, held until the child has finished.
    round_job = parent["round"]
    assert round_job["rules"] == [{"if": '$LAKEPROBE_JOB == "round"'}]
    assert round_job["resource_group"] and round_job["trigger"]["strategy"] == "depend"
    assert (REPO / round_job["trigger"]["include"]) == GITLAB[1]
    assert round_job["variables"]["LAKEPROBE_RUN_ID"] == "$CI_PIPELINE_ID"
    # Its shards: parallel jobs, their JUnit XML a test report, their results kept; a finding is not a failure.
    shard = _job(GITLAB[1], "shard")
    assert shard["parallel"] == shards
    (command,) = pipeline_commands(GITLAB[1])
    argv = shlex.split(command)
    assert shard["artifacts"]["reports"]["junit"] == argv[argv.index("--junit-xml") + 1]
    assert shard["artifacts"]["paths"] == [argv[argv.index("--results-dir") + 1] + "/"]
    assert shard["artifacts"]["when"] == "always" and shard["allow_failure"] == {"exit_codes": [1]}
    # The report: the same round id, every shard counted, after the round even when a shard failed; GitLab
    # Pages publishes what a job named `pages` leaves in public/.
    pages = parent["pages"]
    assert pages["needs"] == ["round"] and pages["rules"] == [{"if": '$LAKEPROBE_JOB == "round"', "when": "always"}]
    assert pages["variables"]["LAKEPROBE_RUN_ID"] == "$CI_PIPELINE_ID" and pages["artifacts"]["paths"] == ["public"]
    (report,) = commands(" ".join(pages["script"]))
    assert '--shards "$LAKEPROBE_SHARDS"' in report and "--out public/" in report
    # The sweeper: its own schedule, selected by the same variable.
    assert parent["sweep"]["rules"] == [{"if": '$LAKEPROBE_JOB == "sweep"'}]
    assert commands(" ".join(parent["sweep"]["script"]))[0].startswith("lakeprobe sweep")


def test_github_round_in_shards_never_overlapping_then_the_report():
    workflow = _docs(GITHUB[0])[0]
    on = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert on["schedule"] == [{"cron": "0 * * * *"}] and "workflow_dispatch" in on
    assert workflow["concurrency"]["cancel-in-progress"] is False and workflow["concurrency"]["group"]
    assert workflow["env"]["LAKEPROBE_RUN_ID"] == "${{ github.run_id }}"
    shards = workflow["env"]["LAKEPROBE_SHARDS"]
    round_job, report = workflow["jobs"]["round"], workflow["jobs"]["report"]
    assert round_job["strategy"]["matrix"]["shard"] == list(range(1, shards + 1))
    assert round_job["strategy"]["fail-fast"] is False
    shard_step = next(s for s in round_job["steps"] if "pytest suites" in s.get("run", ""))
    assert shard_step["env"]["SHARD"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    assert report["needs"] == "round" and report["if"] == "${{ !cancelled() }}"
    upload = report["steps"][-1]
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["with"]["path"] == "public/"
    # The sweeper is a workflow of its own: a waiting sweep must never take a waiting round's place.
    sweeper = _docs(GITHUB[1])[0]
    assert sweeper[True]["schedule"] == [{"cron": "30 */6 * * *"}]
    assert sweeper["concurrency"]["group"] != workflow["concurrency"]["group"]
    assert [c.split()[1] for c in pipeline_commands(GITHUB[1])] == ["sweep"]


def test_kubernetes_indexed_round_never_overlapping_then_the_report():
    round_job, report = _cronjob("lakeprobe-round"), _cronjob("lakeprobe-report")
    assert round_job["spec"]["concurrencyPolicy"] == "Forbid"
    job = round_job["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    shards = int(_env(_container(round_job))["LAKEPROBE_SHARDS"]["value"])
    assert (
        job["completions"] == job["parallelism"] == shards == int(_env(_container(report))["LAKEPROBE_SHARDS"]["value"])
    )
    run_id = _env(_container(round_job))["LAKEPROBE_RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert run_id == "metadata.labels['job-name']"
    # The report: its schedule is the round's plus the offset its script takes off its own Job's name, and the
    # round is over by then.
    offset = int(_found(r"\$\$\(\(minutes - (\d+)\)\)", _script(_container(report))))
    minute = lambda cronjob: int(cronjob["spec"]["schedule"].split()[0])
    assert minute(report) - minute(round_job) == offset
    assert round_job["spec"]["schedule"].split()[1:] == report["spec"]["schedule"].split()[1:]
    assert job["activeDeadlineSeconds"] < offset * 60
    assert f"{round_job['metadata']['name']}-$$((minutes" in _script(_container(report))
    assert _cronjob("lakeprobe-sweep")["spec"]["schedule"] == "30 */6 * * *"


def test_kubernetes_report_finds_the_rounds_job_name_from_its_own(tmp_path):
    """The CronJob controller names each Job <CronJob name>-<scheduled time in minutes since the epoch>; the
    report's script, as the shell gets it from Kubernetes, turns its own Job's name into the round's."""
    container = _container(_cronjob("lakeprobe-report"))
    round_minutes = 29410620  # 2025-12-02 09:00 UTC: the round's Job is lakeprobe-round-29410620
    env = {"REPORT_JOB_NAME": f"lakeprobe-report-{round_minutes + 50}"}
    script = kubernetes_expand(_script(container), env)
    derive = [line for line in script.splitlines() if line.startswith(("minutes=", "export LAKEPROBE_RUN_ID="))]
    assert len(derive) == 2
    proc = run(["sh", "-c", "\n".join([*derive, 'printf %s "$LAKEPROBE_RUN_ID"'])], user_env(**env))
    assert proc.returncode == 0 and proc.stdout == f"lakeprobe-round-{round_minutes}", proc.stderr


def test_every_pipeline_writes_the_clients_file_its_inventory_names_with_mode_600():
    """The inventory's issuer.clients_file is where each job puts the secret, with umask 077 from the start."""
    (configmap,) = _docs(CI / "kubernetes" / "inventory.yaml")
    assert yaml.safe_load(configmap["data"]["lake.yaml"])["issuer"]["clients_file"] == CLIENTS_FILE
    for path in PIPELINES:
        writes = [s for d in _docs(path) for s in _strings(d) if CLIENTS_FILE in s and "umask 077" in s]
        jobs = len(pipeline_commands(path))
        assert len(writes) >= (1 if jobs else 0), path
        for script in writes:
            assert re.search(r"\(umask 077 && .*(cp|printf)", script), script
    assert f"issuer.clients_file: {CLIENTS_FILE}" in readme_section()


# --- scripts: valid shell, and the exit codes the pipelines promise ---


def _scripts(path: Path) -> list[str]:
    """The shell scripts of a pipeline file, as its scheduler hands them to the shell."""
    docs = _docs(path)
    if path in GITLAB:
        return [line for d in docs for job in d.values() if isinstance(job, dict) for key in
                ("before_script", "script") for line in job.get(key, [])]  # fmt: skip
    if path in GITHUB:
        steps = [s for d in docs for job in d["jobs"].values() for s in job["steps"]]
        return [re.sub(r"\$\{\{.*?\}\}", "x", s["run"]) for s in steps if "run" in s]
    containers = [_container(d) for d in docs if d["kind"] == "CronJob"]
    return [kubernetes_expand(_script(c), {}) for c in containers]


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_scripts_are_valid_shell(path):
    for script in _scripts(path):
        proc = run(["sh", "-n", "-c", script], user_env())
        assert proc.returncode == 0, (script, proc.stderr)


@pytest.fixture
def checkout(tmp_path):
    """A shard job's working directory: what the pipelines run from a clone of the repository. The probes'
    code comes from the venv, as in the image."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "suites", root / "suites", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    return root


def _lake(tmp_path: Path, *extra_rses: str) -> Path:
    # A name of its own: lakeprobe lets one round of a lake run at a time on a machine.
    path = file_lake(tmp_path / "lake", lake=f"pipelines-{os.getpid()}")
    data = yaml.safe_load(path.read_text())
    for name in extra_rses:  # an RSE whose directory is not there: its connection check fails
        data["rses"][name] = {"protocols": {"file": f"file://{tmp_path}/not-there/{name}/"}}
    path.write_text(yaml.safe_dump(data))
    return path


def _shell_env(lake: Path, **scheduler) -> dict:
    return user_env(PATH=VENV_BIN + os.pathsep + os.environ["PATH"], LAKEPROBE_INVENTORY=str(lake), **scheduler)


def _records(results: Path) -> list:
    return [r for f in sorted(results.glob("*.jsonl")) for r in read_jsonl(f)]


SCHEDULERS = {
    # What each scheduler sets for shard 2 of 2 (the files set LAKEPROBE_RUN_ID from the scheduler's id).
    "gitlab": (GITLAB[1], {"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2", "LAKEPROBE_RUN_ID": "1234567"}),
    "github": (GITHUB[0], {"SHARD": "2/2", "GITHUB_RUN_ID": "7654321", "LAKEPROBE_RUN_ID": "7654321"}),
    "kubernetes": (
        CI / "kubernetes" / "round.yaml",
        {"JOB_COMPLETION_INDEX": "1", "LAKEPROBE_SHARDS": "2", "LAKEPROBE_RUN_ID": "lakeprobe-round-29410620"},
    ),
}


def test_the_shard_command_runs_as_each_scheduler_runs_it(checkout, tmp_path):
    """The pipelines' own command line, in the environment each scheduler gives a shard: GitLab's 1-based
    index, Kubernetes' 0-based one, GitHub's explicit --shard all select the same shard, and each writes its
    JUnit XML and its records where the pipeline collects them."""
    lake = _lake(tmp_path)
    chosen = {}
    for name, (path, scheduler) in SCHEDULERS.items():
        (command,) = [c for c in pipeline_commands(path) if c.startswith("pytest")]
        results = checkout / "results"
        shutil.rmtree(results, ignore_errors=True)
        proc = run(["sh", "-c", command], _shell_env(lake, **scheduler), cwd=checkout, timeout=300)
        assert proc.returncode == 0, (name, proc.stdout[-3000:], proc.stderr[-2000:])
        assert ET.parse(results / "junit.xml").getroot().iter("testcase")
        records = _records(results)
        assert records and {r.shard for r in records} == {"2/2"}, name
        assert len({r.run_id for r in records}) == 1, name
        chosen[name] = {(r.check, r.rse, r.protocol, r.peer, r.mode) for r in records}
    assert chosen["gitlab"] == chosen["github"] == chosen["kubernetes"]


@pytest.mark.parametrize(
    "path, shell",
    [
        (GITHUB[0], ["bash", "-e", "-c"]),  # GitHub's shell for a `run:` step where bash is installed
        (CI / "kubernetes" / "round.yaml", _container(_cronjob("lakeprobe-round"))["command"]),
    ],
    ids=["github", "kubernetes"],
)
def test_a_finding_does_not_fail_the_shard_job_a_mistake_does(path, shell, checkout, tmp_path):
    """GitHub's step and the Kubernetes container run the shard's script as it stands (less the copy of the
    clients file, which this lake has none of), in their shell; GitLab says the same with
    allow_failure: exit_codes: [1]."""
    (script,) = [s for s in _scripts(path) if "pytest suites" in s]
    script = "\n".join(line for line in script.splitlines() if CLIENTS_FILE not in line)
    scheduler = {"SHARD": "1/1", "LAKEPROBE_RUN_ID": "42"}
    lake = _lake(tmp_path, "GONE")
    proc = run([*shell, script], _shell_env(lake, **scheduler), cwd=checkout, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert [r.rse for r in _records(checkout / "results") if r.status == "fail"] == ["GONE"]
    lake.write_text(lake.read_text().replace("rses:", "rses_typo:"))
    proc = run([*shell, script], _shell_env(lake, **scheduler), cwd=checkout, timeout=300)
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_the_sweep_command_runs(checkout, tmp_path):
    (command,) = set(c for p in PIPELINES for c in pipeline_commands(p) if c.startswith("lakeprobe sweep"))
    proc = run(["sh", "-c", command], _shell_env(_lake(tmp_path)), cwd=checkout, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sweep: 0 run directories removed from 2 RSEs" in proc.stdout


# --- the README documents the commands, and the tools have every option they use ---


def test_every_pipeline_command_is_one_the_readme_documents():
    documented = set(readme_commands())
    used = {c for p in PIPELINES for c in pipeline_commands(p)}
    assert {c.split()[1] for c in used} == {"suites", "report", "sweep"}
    assert used <= documented, sorted(used - documented)
    assert "flock -n /run/lock/lakeprobe-" in readme_section()


def _options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text))


def test_every_option_the_commands_use_is_one_the_tools_have():
    """A pipeline with an option lakeprobe does not know would fail every hour: each option of each command
    (the pipelines' and the README section's) is in the help of the command it is given to."""
    env = user_env()
    helps = {
        "suites": run_pytest("suites", "--help", env=env).stdout,
        "report": lakeprobe_cli("report", "--help", env=env).stdout,
        "sweep": lakeprobe_cli("sweep", "--help", env=env).stdout,
    }
    known = {tool: _options(text) for tool, text in helps.items()}
    assert all(len(options) > 3 for options in known.values()), helps
    used = {c for p in PIPELINES for c in pipeline_commands(p)} | set(readme_commands())
    for command in sorted(used):
        argv = shlex.split(command)
        unknown = [a for a in argv if a.startswith("-") and a.split("=")[0] not in known[argv[1]]]
        assert not unknown, f"{command}: {unknown}"


# --- the image ---


def _makefile_words(name: str) -> list[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    return _found(rf"^{name} := (.*)$", text, re.M).split()


def _containerfile_packages() -> tuple[list[str], list[str]]:
    """The packages the image installs, and those its comment says only the lab needs."""
    text = CONTAINERFILE.read_text()
    install = _found(r"apt-get install -y --no-install-recommends((?:[^&]|\\\n)*)&&", text)
    installed = install.replace("\\\n", " ").split()
    lab_only = [p for line in re.findall(r"^# lab-only: (.*)$", text, re.M) for p in line.split()]
    return installed, lab_only


def test_the_image_installs_the_makefiles_packages_less_the_labs():
    makefile = _makefile_words("APT_PACKAGES")
    installed, lab_only = _containerfile_packages()
    image_only = {"python3", "python3-venv", "ca-certificates"}  # a Debian system has them, the base image not
    assert set(lab_only) <= set(makefile), "a lab-only package the Makefile does not install"
    assert not set(lab_only) & set(installed)
    assert set(installed) - image_only == set(makefile) - set(lab_only), (
        "ci/Containerfile and the Makefile's APT_PACKAGES disagree: install it, or list it as lab-only"
    )
    assert len(installed) == len(set(installed))


def test_the_image_is_built_as_the_makefile_builds_the_venv():
    text = CONTAINERFILE.read_text()
    assert re.search(r"^FROM debian:12\b", text, re.M)
    modules = _found(r'^ARG DEBIAN_PY_MODULES="(.*)"$', text, re.M).split()
    assert modules == _makefile_words("DEBIAN_PY_MODULES")
    assert "pip install --no-cache-dir . " in text
    # What `pip install .` and `pytest suites` need is copied: the packages pyproject.toml names, its readme,
    # the suites and their conftest.
    copied = {src.rstrip("/") for line in re.findall(r"^COPY (.*) \S+$", text, re.M) for src in line.split()}
    project = __import__("tomllib").loads((REPO / "pyproject.toml").read_text())
    tops = {p.split(".")[0] for p in project["tool"]["setuptools"]["packages"]}
    assert tops | {"pyproject.toml", project["project"]["readme"], "suites", "conftest.py"} <= copied
    assert all((REPO / src).exists() for src in copied)


# --- secrets: only from the schedulers' secret stores, never written in a file, never printed ---

LITERAL_SECRETS = [
    (r"://[^/\s:@$]+:[^/\s@$]+@", "credentials in a URL"),
    (r"hooks\.slack\.com/services/|/hooks/[A-Za-z0-9]{16,}", "a webhook URL with its key"),
    (r"\beyJ[\w-]{10,}\.", "a JWT"),
    (r"-----BEGIN [A-Z ]*PRIVATE KEY", "a private key"),
    (
        r"(?i)(?<![\w-])[\w-]*(password|passwd|secret|token|webhook)(?![\w-])[ \t]*[:=][ \t]*[\"']?([^\s\"'#,]{6,})",
        "a literal value",
    ),
    (r"\b(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Za-z])[A-Za-z0-9+/_-]{32,}", "a long random-looking string"),
    (r'"[\w-]+"\s*:\s*"(?!secret")[^"]{6,}"', "a client's secret in JSON"),
]


def _a_reference(match: re.Match) -> bool:
    """A value that names a secret rather than holding it: a variable ($X, ${{ secrets.X }}, an upper-case
    name), or a file's path."""
    value = match.groups()[-1] if match.groups() else ""
    return bool(value) and (value.startswith(("$", "/", "./")) or re.fullmatch(r"[A-Z][A-Z0-9_]*", value) is not None)


def literal_secrets(text: str) -> list[str]:
    return [
        f"{what}: {m[0]}"
        for pattern, what in LITERAL_SECRETS
        for m in re.finditer(pattern, text)
        if not (what == "a literal value" and _a_reference(m))
    ]


@pytest.mark.parametrize("path", [*PIPELINES, CONTAINERFILE], ids=lambda p: p.name)
def test_no_file_holds_a_secret(path):
    assert literal_secrets(path.read_text()) == []


@pytest.mark.parametrize(
    "planted",
    [
        "PGPASSWORD: hunter2hunter2",
        "LAKEPROBE_CHAT_WEBHOOK: https://chat.example.org/hooks/xq8w1b6d3kfa9e7gm2z5c4",
        '{"probe": "s3cret-v4lue"}',
        "url: postgresql://lakeprobe:hunter2@db.example.org/monitoring",
        "token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9iZSJ9.c2lnbmF0dXJl",
    ],
)
def test_the_secret_scan_finds_a_planted_secret(planted):
    assert literal_secrets(GITLAB[0].read_text() + "\n" + planted + "\n")


def _lines_naming(path: Path, name: str) -> list[str]:
    """The lines of a file that use the variable `name`, comments left out."""
    return [line for line in path.read_text().splitlines() if name in line and not line.strip().startswith("#")]


def test_secrets_are_referenced_only_as_the_schedulers_variables():
    # GitLab: project CI/CD variables, in every job's environment; this file only names the clients file's,
    # as the path GitLab writes a File variable to.
    for path in GITLAB:
        for doc in _docs(path):
            variables = [doc.get("variables", {})] + [
                j.get("variables", {}) for j in doc.values() if isinstance(j, dict)
            ]
            assert not any(name in v for v in variables for name in SECRETS), path
        assert not _lines_naming(path, "PGPASSWORD") and not _lines_naming(path, "LAKEPROBE_CHAT_WEBHOOK")
        assert all('cp "$LAKEPROBE_CLIENTS" ' in line for line in _lines_naming(path, "LAKEPROBE_CLIENTS"))
    # GitHub: a secret is only ever a step's environment, from the secrets context, and a step's script names
    # none but the clients' secrets, which it writes to the clients file.
    for path in GITHUB:
        text = path.read_text()
        for name in SECRETS:
            for line in _lines_naming(path, name):
                assert line.strip() in (f"{name}: ${{{{ secrets.{name} }}}}",) or '$LAKEPROBE_CLIENTS" >' in line
        used = set(re.findall(r"secrets\.(\w+)", text))
        assert used <= {*SECRETS, "GITHUB_TOKEN"}, used
    # Kubernetes: from the Secret, by reference; no Secret manifest with values in ci/.
    for path in KUBERNETES:
        for doc in _docs(path):
            assert doc["kind"] != "Secret"
            if doc["kind"] != "CronJob":
                continue
            pod = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            for name, entry in _env(_container(doc)).items():
                if name in SECRETS:
                    assert (
                        set(entry) == {"name", "valueFrom"}
                        and entry["valueFrom"]["secretKeyRef"]["name"] == "lakeprobe"
                    )
            secret_volumes = [v["secret"] for v in pod["volumes"] if "secret" in v]
            assert all(v["secretName"] == "lakeprobe" for v in secret_volumes)


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_no_script_prints_a_secret(path):
    for script in _scripts(path):
        assert not re.search(r"set -\w*x|set -o xtrace|\bprintenv\b|^\s*env\s*$", script, re.M), script
        for line in script.splitlines():
            if any(name in line for name in SECRETS):
                assert not re.search(r"\b(echo|printf|cat)\b", line) or re.search(r">\s*" + CLIENTS_FILE, line), line


def test_the_secret_names_are_the_readmes():
    section = readme_section()
    assert all(f"`{name}`" in section for name in SECRETS)
    assert json.dumps({"client": "secret"}) in section
