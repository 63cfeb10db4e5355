"""Every shell command the alerts can print runs as pasted.

`coverage commands` prints, for every catalog entry, every shell command the
alerts and `coverage explain` can print (filled with a realistic context: the
add-on read with and without configuration values, not read, and nothing
known), the OVERWRITE call in each form and the update checks. For each:

1. `bash -n` parses the whole command (heredocs, `$(...)`, pipes, `&&`).
2. No `<placeholder>` or `‹...›` is left in it.
3. Every `aws ...` invocation in it, the ones inside `$(...)` included, goes
   to the AWS CLI's own parser (the `awscli` package's driver, in process),
   pointed at a closed local port with dummy credentials and no retries. Only
   a command the CLI accepts gets as far as "Could not connect to the
   endpoint URL"; a parse error, an unknown option, a bad shorthand or JSON
   value, or a parameter botocore's model rejects fails the test with the
   command shown. The CLI's own commands (`eks update-kubeconfig`) are
   checked the same way: they call the service (DescribeCluster) before
   doing anything else.

How an `aws` invocation is taken out of a shell command: heredoc bodies are
dropped; then, outside single quotes, `$((...))` becomes a number, each
`$(...)` becomes a sample of what it prints (chosen from its text: an add-on
version, configuration values, a detector id, a Kubernetes version ...; its
own text is checked as a command too), and `$NAME` / `${NAME...}` becomes the
sample for that variable (an unknown variable fails the test, so a new one
gets a sample here). Samples are quoted for where they stand, ANSI-C
`$'...'` strings are decoded, and an unquoted line break becomes `;`. The
result is split by `shlex` into words and operators; segments between `|`, `||`, `&&`, `;` are commands, leading
`NAME=value` assignments and redirections are dropped, and a segment whose
first word is `aws` is checked.
"""

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "prod-payments"
REGION = "us-east-1"
ACCOUNT = "111122223333"

VERSION = "v1.10.0-eksbuild.2"
# As GuardDuty tunes the agent, with a quote and a line break in it.
CONFIG = '{"priorityClassName":"aws-guardduty-agent.priorityclass-high",\n "note":"it\'s tuned"}'

# What a variable holds when the command runs.
VARIABLES = {
    "CLUSTER": CLUSTER,
    "AWS_REGION": REGION,
    "ACCOUNT_ID": ACCOUNT,
    "VPC_ID": "vpc-0a1b2c3d4e5f67890",
    "DETECTOR_ID": "12abc34d567e8fa901bc2d34e56789f0",
    "VERSION": VERSION,
    "CONFIG": CONFIG,
    "NEXT_VERSION": "1.31",
    "OWNER": "security-team",
    "APPROVAL_KEY_ID": "arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
    "APPROVE_FUNCTION": "arn:aws:lambda:us-east-1:111122223333:function:coverage-remediation",
    "MAC": "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c",
}

# What a `$(...)` prints, by what it asks for.
SUBSTITUTIONS = [
    ("addon.addonVersion", VERSION),
    ("addon.configurationValues", CONFIG),
    ("DetectorIds", VARIABLES["DETECTOR_ID"]),
    ("resourcesVpcConfig.vpcId", VARIABLES["VPC_ID"]),
    ("cluster.version", "1.30"),
    ("get-caller-identity", ACCOUNT),
    ("date +%s", "1767225600"),
    ("generate-mac", "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c"),
]

PLACEHOLDER = re.compile(r"<[A-Za-z][^<>\n]*>|[‹›]")


def every_command():
    out = subprocess.run(
        ["cargo", "run", "-q", "--locked", "--bin", "coverage", "--",
         "commands", "--cluster", CLUSTER, "--region", REGION, "--account", ACCOUNT],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


COMMANDS = every_command()


def label(command):
    return f"{command['entry']}/{command['variant']}: {command['purpose']}"


def drop_heredoc_bodies(text):
    lines, delimiter = [], None
    for line in text.split("\n"):
        if delimiter is not None:
            if line == delimiter:
                delimiter = None
            continue
        match = re.search(r"<<-?\s*'?(\w+)'?", line)
        if match:
            delimiter = match.group(1)
        lines.append(line)
    assert delimiter is None, f"heredoc {delimiter} never closed"
    return "\n".join(lines)


def matching_paren(text, start):
    """Index of the `)` closing the `(` at `start`, quote-aware."""
    depth, quote, i = 0, None, start
    while i < len(text):
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = None
        elif quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise AssertionError(f"unbalanced parentheses in {text!r}")


def quoted_for(value, quote):
    if quote == '"':
        return re.sub(r'([\\"$`])', r"\\\1", value)
    return shlex.quote(value)


def decode_ansi_c(body):
    return re.sub(
        r"\\(x[0-9a-fA-F]{2}|.)",
        lambda m: {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'"}.get(
            m.group(1), chr(int(m.group(1)[1:], 16)) if m.group(1).startswith("x") else m.group(1)
        ),
        body,
    )


def expand(text, inner_commands):
    """Substitute samples for `$(...)`, `$((...))`, `$NAME`; collect the inner commands."""
    out, quote, i = [], None, 0
    while i < len(text):
        c = text[i]
        if quote == "'":
            out.append(c)
            if c == "'":
                quote = None
            i += 1
            continue
        if c == "$" and text.startswith("$((", i):
            end = matching_paren(text, i + 1)
            out.append("1767225600")
            i = end + 1
            continue
        if c == "$" and text.startswith("$(", i):
            end = matching_paren(text, i + 1)
            inner = text[i + 2:end]
            inner_commands.append(inner)
            samples = [value for key, value in SUBSTITUTIONS if key in inner]
            assert samples, f"no sample for the output of $({inner})"
            out.append(quoted_for(samples[0], quote))
            i = end + 1
            continue
        if c == "$" and quote is None and text.startswith("$'", i):
            end = i + 2
            while text[end] != "'":
                end += 2 if text[end] == "\\" else 1
            out.append(shlex.quote(decode_ansi_c(text[i + 2:end])))
            i = end + 1
            continue
        if c == "$":
            match = re.match(r"\$\{(\w+)[^}]*\}|\$(\w+)", text[i:])
            assert match, f"a $ that is no expansion in {text!r}"
            name = match.group(1) or match.group(2)
            assert name in VARIABLES, f"no sample for ${name}: add one to VARIABLES"
            out.append(quoted_for(VARIABLES[name], quote))
            i += match.end()
            continue
        if quote == '"' and c == "\\":
            out.append(text[i:i + 2])
            i += 2
            continue
        if quote is None and c == "\n":
            # A line break ends a command, as `;` does.
            out.append(" ; ")
            i += 1
            continue
        if c == quote:
            quote = None
        elif quote is None and c in "'\"":
            quote = c
        out.append(c)
        i += 1
    return "".join(out)


OPERATORS = {"|", "||", "&&", ";", "&"}
REDIRECTIONS = {">", ">>", "<", "<<", "2>", "&>"}


def aws_invocations(command_text):
    """Every `aws` argv (without the `aws`) in a shell command, `$(...)` included."""
    found, pending = [], [drop_heredoc_bodies(command_text)]
    while pending:
        text = pending.pop()
        inner = []
        expanded = expand(text, inner)
        pending.extend(inner)
        lexer = shlex.shlex(expanded, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        segment, skip_next = [], False
        for word in list(lexer) + [";"]:
            if skip_next:
                skip_next = False
                continue
            if word in REDIRECTIONS or word.startswith("<<"):
                skip_next = True
                continue
            if word in OPERATORS:
                while segment and re.match(r"^\w+=", segment[0]):
                    segment.pop(0)
                if segment and segment[0] == "aws":
                    found.append(segment[1:])
                segment = []
            else:
                segment.append(word)
    return found


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_RETRY_MODE": "standard",
    "AWS_EC2_METADATA_DISABLED": "true",
    # Nothing from the machine's own AWS configuration.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_PAGER": "",
}
CLOSED_PORT = ["--endpoint-url", "http://127.0.0.1:9", "--cli-connect-timeout", "1"]


def run_aws_cli(args, monkeypatch, tmp_path):
    from awscli.clidriver import create_clidriver

    # In a fresh directory, where a `fileb://NAME` the command reads exists
    # (the command writes it first: the approval payload, the MAC's message).
    monkeypatch.chdir(tmp_path)
    for arg in args:
        if arg.startswith("fileb://") and not (tmp_path / arg[len("fileb://"):]).exists():
            (tmp_path / arg[len("fileb://"):]).write_bytes(b'{"approve":"sample"}')

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = create_clidriver().main(args + CLOSED_PORT)
        except SystemExit as exit:
            rc = exit.code
    return rc, err.getvalue() + out.getvalue()


UNIQUE = sorted({c["command"]: c for c in COMMANDS}.values(), key=label)


def test_every_entry_has_commands():
    entries = {c["entry"] for c in COMMANDS}
    catalog = json.loads(subprocess.run(
        ["cargo", "run", "-q", "--locked", "--bin", "coverage", "--", "catalog", "--format", "json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout)
    with_shell = {e["id"] for e in catalog if any(c["kind"] == "shell" for c in e["commands"])}
    assert with_shell <= entries
    assert {"overwrite", "update-started", "update-outcome-unknown"} <= entries


@pytest.mark.parametrize("command", UNIQUE, ids=label)
def test_bash_parses_it_and_no_placeholder_is_left(command):
    text = command["command"]
    result = subprocess.run(["bash", "-n"], input=text + "\n", capture_output=True, text=True)
    assert result.returncode == 0, f"bash -n rejects:\n{text}\n{result.stderr}"
    assert not PLACEHOLDER.search(text), f"a placeholder is left in:\n{text}"


AWS_CALLS = sorted(
    {(label(c), shlex.join(argv)): argv for c in UNIQUE for argv in aws_invocations(c["command"])}.items()
)


def test_the_extraction_finds_the_commands_inside_substitutions():
    calls = aws_invocations(
        'NEXT=$(aws eks describe-cluster --name a --query cluster.version --output text | awk -F. \'{print $1}\')\n'
        'aws eks update-cluster-version --name a --kubernetes-version "$NEXT_VERSION" && echo done'
    )
    assert ["eks", "update-cluster-version", "--name", "a", "--kubernetes-version", "1.31"] in calls
    assert ["eks", "describe-cluster", "--name", "a", "--query", "cluster.version", "--output", "text"] in calls


@pytest.mark.parametrize("argv", [argv for _, argv in AWS_CALLS], ids=[key[1][:120] for key, _ in AWS_CALLS])
def test_the_aws_cli_accepts_it(argv, monkeypatch, tmp_path):
    rc, output = run_aws_cli(list(argv), monkeypatch, tmp_path)
    assert "Could not connect to the endpoint URL" in output and rc != 0, (
        f"the AWS CLI did not accept:\naws {shlex.join(argv)}\nexit {rc}:\n{output}"
    )


def test_a_command_the_cli_rejects_fails_the_check(monkeypatch, tmp_path):
    # The troubleshooting page's own filter, which the CLI rejects.
    rc, output = run_aws_cli(
        ["guardduty", "list-coverage", "--region", REGION, "--detector-id", VARIABLES["DETECTOR_ID"],
         "--filter-criteria",
         '{"FilterCriterion":[{"CriterionKey":"CLUSTER_NAME","FilterCondition":{"EqualsValue":"a"}}]}'],
        monkeypatch, tmp_path,
    )
    assert "Could not connect" not in output and "EqualsValue" in output, output


def test_the_overwrite_keeps_the_configuration_values_exactly():
    forms = {c["variant"]: c for c in COMMANDS if c["entry"] == "overwrite"}
    with_values = aws_invocations(forms["overwrite-with-values"]["command"])
    assert len(with_values) == 1
    argv = with_values[0]
    assert argv[argv.index("--configuration-values") + 1] == forms["overwrite-with-values"]["configuration_values"]
    assert argv[argv.index("--addon-version") + 1] == VERSION
    assert "--configuration-values" not in aws_invocations(forms["overwrite-without-values"]["command"])[0]
    # Not read: the version and the values are fetched first, then sent.
    not_read = forms["overwrite-addon-not-read"]["command"]
    assert not_read.startswith("VERSION=$(aws eks describe-addon "), not_read
    last = aws_invocations(not_read)[0]
    assert last[:2] == ["eks", "update-addon"]
    assert last[last.index("--configuration-values") + 1] == CONFIG


def test_the_old_v2_only_approval_form_fails_the_pinned_cli(monkeypatch, tmp_path):
    # `--cli-binary-format` is AWS CLI v2 only: the pinned v1 driver rejects it,
    # which is why the approval commands send the payload with fileb://.
    rc, output = run_aws_cli(
        ["lambda", "invoke", "--region", REGION, "--function-name", VARIABLES["APPROVE_FUNCTION"],
         "--cli-binary-format", "raw-in-base64-out", "--payload", '{"approve":"abc.def"}', "/dev/stdout"],
        monkeypatch, tmp_path,
    )
    assert "Could not connect" not in output and "cli-binary-format" in output and rc != 0, output


def test_the_approval_commands_are_checked_and_write_the_payload(monkeypatch, tmp_path):
    forms = {c["variant"]: c for c in COMMANDS if c["entry"] == "approval"}
    assert set(forms) == {"approve-with-token", "sign-and-approve-named", "sign-and-approve-unnamed"}
    for form in forms.values():
        assert "--cli-binary-format" not in form["command"]
        invokes = [argv for argv in aws_invocations(form["command"]) if argv[:2] == ["lambda", "invoke"]]
        assert len(invokes) == 1, form["command"]
        assert invokes[0][invokes[0].index("--payload") + 1] == "fileb://approve-payload.json"
        assert (label(form), shlex.join(invokes[0])) in dict(AWS_CALLS)
    # Run as pasted (with `aws` a shell function that prints the sample MAC):
    # the file holds exactly the approval payload.
    for variant, token in [
        ("approve-with-token", forms["approve-with-token"]["token"]),
        ("sign-and-approve-unnamed", None),
    ]:
        script = f"aws() {{ echo {VARIABLES['MAC']}; }}\n" + forms[variant]["command"] + "\n"
        env = {**os.environ, "APPROVAL_KEY_ID": VARIABLES["APPROVAL_KEY_ID"],
               "APPROVE_FUNCTION": VARIABLES["APPROVE_FUNCTION"]}
        result = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        payload = json.loads((tmp_path / "approve-payload.json").read_bytes())
        assert set(payload) == {"approve"}
        if token is not None:
            assert payload["approve"] == token
        else:
            assert payload["approve"].endswith("." + VARIABLES["MAC"])
