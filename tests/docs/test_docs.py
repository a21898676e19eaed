"""Every example in README.md and docs/*.md runs here, so the documentation cannot rot.

The convention, for whoever writes a page
-----------------------------------------
Each fenced code block is one example. Its language and, optionally, a directive
in an HTML comment on the line just above it (invisible on GitHub) say what the
test does with it:

``python`` block after ``<!-- doc: file NAME.py -->``
    Saved as NAME.py in the page's folder for later blocks to run. A later block
    with the same NAME replaces the file (that is how a page shows an edit).
``python`` block without a directive
    Saved and run with ``python`` in the page's folder; it must exit 0.
``text`` block after ``<!-- doc: output -->``
    What the python block just above printed (stdout and stderr together).
``console`` block
    A shell session. Each ``$ command`` line runs with bash in the page's folder
    and the lines up to the next ``$`` are what it prints. A command ending in
    ``\\`` continues on the next line. Every command must exit 0.
``<!-- doc: exit N -->`` before a python or console block
    It (every command in it) must exit with N instead; a command killed by a
    signal exits with 128 + the signal number, as in a shell.
``<!-- doc: make-dry-run -->`` before a console block of ``make`` commands
    For targets too slow to run here (the whole suite, the demo): each command
    is checked with ``make -n`` in the repository instead.
``<!-- doc: not-run REASON -->`` before a ``text`` block
    Not an example (a diagram). The REASON is required.

Anything else (another language, a text block without a directive, an indented
or ``~~~`` fence, a directive that is not right above a block, a saved file no
later block uses) fails ``test_every_block_is_covered``: a page cannot gain an
untested example.

Output is compared line by line, loosely: blank lines are ignored and runs of
spaces count as one (table columns). A line that is just ``...`` stands for any
number of lines, and ``...`` inside a line for any text. Durations (``23 ms``,
``1.44 s``) and timestamps match any value. A run id (``20261124-125335-0a7c5b``)
seen in an expected output is bound to the one really printed there; later
commands and outputs on the page that mention it use the real one, so a page
reads like one terminal session. Digests are compared as they are: artifacts are
content-addressed, so the same value has the same digest on every machine.

Every page runs in a fresh folder with its own CADENCIA_HOME (``.cadencia`` in
that folder), block after block. Each block is one test named after its page and
line (``docs/resume.md:42``); selecting one block runs the blocks before it on
its page first.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
REQUIRED_PAGES = [
    "index.md",
    "steps-and-pipelines.md",
    "parameters.md",
    "fan-out.md",
    "conditions.md",
    "artifacts-and-materializers.md",
    "caching-and-plan.md",
    "retries-and-timeouts.md",
    "resume.md",
    "cli.md",
]
COMMAND_TIMEOUT = 120

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(\S*)")
_DIRECTIVE = re.compile(r"^<!--\s*doc:\s*(.*?)\s*-->\s*$")
_RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{6}"
_TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
_DURATION = r"(?:\d+ ms|\d+\.\d+ s|\d+\.\d+ min)"
_VOLATILE = re.compile(
    rf"(?P<any>\.\.\.)|(?P<run_id>{_RUN_ID})|(?P<time>{_TIME})|(?P<duration>\b{_DURATION}\b)"
)


# -- reading pages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    """Line of the opening fence, counted from 1."""
    index: int
    language: str
    directive: str
    text: str
    problem: str = ""
    """Why the block breaks the convention ("" when it does not)."""

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str:
        return self.directive.partition(" ")[0]

    @property
    def argument(self) -> str:
        return self.directive.partition(" ")[2].strip()


def parse(page: Path) -> tuple[list[Block], list[str]]:
    """The page's fenced blocks, and problems found outside any block."""
    lines = page.read_text().splitlines()
    label = page.relative_to(ROOT)
    blocks: list[Block] = []
    problems: list[str] = []
    directive, directive_line = "", 0
    number = 0
    while number < len(lines):
        line = lines[number]
        found = _DIRECTIVE.match(line.strip())
        if found:
            if directive:
                problems.append(f"{label}:{directive_line}: directive not followed by a block")
            directive, directive_line = found.group(1), number + 1
            number += 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if directive:
                problems.append(
                    f"{label}:{directive_line}: a directive must be on the line right above "
                    "its code block"
                )
                directive = ""
            number += 1
            continue
        indent, marker, language = fence.groups()
        end = number + 1
        while end < len(lines) and lines[end].strip() != marker:
            end += 1
        text = "\n".join(lines[number + 1 : end]) + "\n"
        block = Block(page, number + 1, len(blocks), language, directive, text)
        problem = _check_block(block, indent, marker, previous=blocks[-1] if blocks else None)
        if end == len(lines):
            problem = "the block is never closed"
        blocks.append(dataclasses.replace(block, problem=problem))
        directive = ""
        number = end + 1
    if directive:
        problems.append(f"{label}:{directive_line}: directive not followed by a block")
    return blocks, problems


def _check_block(block: Block, indent: str, marker: str, previous: Block | None) -> str:
    if indent or marker != "```":
        return "fence examples at the start of a line with exactly ``` (no indent, no ~~~)"
    kind, argument = block.kind, block.argument
    if block.language == "python":
        if kind == "file":
            if not re.fullmatch(r"[\w.-]+\.py", argument):
                return f"'file' needs a NAME.py, got {argument!r}"
            return ""
        return _check_exit(block) if kind == "exit" else _no_directive(block)
    if block.language == "console":
        if kind == "exit":
            problem = _check_exit(block)
        elif kind == "make-dry-run":
            only_make = all(c.startswith("make ") for c, _ in commands(block.text))
            problem = "" if only_make else "make-dry-run blocks hold only 'make ...' commands"
        else:
            problem = _no_directive(block)
        if problem:
            return problem
        if not block.text.lstrip().startswith("$ "):
            return "a console block starts with a '$ command' line"
        return ""
    if block.language == "text":
        if kind == "output":
            runs_python = (
                previous is not None and previous.language == "python" and previous.kind != "file"
            )
            return "" if runs_python else "an output block must follow a python block that runs"
        if kind == "not-run":
            return "" if argument else "not-run needs a reason: <!-- doc: not-run REASON -->"
        return "a text block needs <!-- doc: output --> or <!-- doc: not-run REASON -->"
    return (
        f"language {block.language or '(none)'!r} is not runnable; use python, console or text "
        "(see the convention at the top of tests/docs/test_docs.py)"
    )


def _check_exit(block: Block) -> str:
    return "" if block.argument.isdigit() else f"'exit' needs a number, got {block.argument!r}"


def _no_directive(block: Block) -> str:
    if not block.directive:
        return ""
    return f"directive {block.directive!r} does not apply to a {block.language} block"


def commands(text: str) -> list[tuple[str, list[str]]]:
    """A console block's ``(command, expected output lines)`` pairs."""
    result: list[tuple[str, list[str]]] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1].rstrip() + " " + next(lines, "").strip()
            result.append((command, []))
        elif result:
            result[-1][1].append(line)
    return result


# -- comparing output --------------------------------------------------------------------


def normal_lines(text: str) -> list[str]:
    """Lines with runs of whitespace made one space; blank lines dropped."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def output_pattern(expected: list[str], bindings: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A regular expression for the whole output, and its groups' names -> shown values."""
    groups: dict[str, str] = {}
    named: dict[str, str] = {}
    parts = []
    for line in normal_lines("\n".join(expected)):
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        pieces, position = [], 0
        for match in _VOLATILE.finditer(line):
            pieces.append(re.escape(line[position : match.start()]))
            position = match.end()
            value, kind = match.group(), match.lastgroup
            if kind == "any":
                pieces.append(r"[^\n]*?")
            elif kind == "time":
                pieces.append(_TIME)
            elif kind == "duration":
                pieces.append(_DURATION)
            elif value in bindings:
                pieces.append(re.escape(bindings[value]))
            elif value in named:
                pieces.append(f"(?P={named[value]})")
            else:
                named[value] = f"value{len(named)}"
                groups[named[value]] = value
                pieces.append(f"(?P<{named[value]}>{_RUN_ID})")
        pieces.append(re.escape(line[position:]))
        parts.append("".join(pieces) + r"\n")
    return "".join(parts), groups


def match_output(expected: list[str], actual: str, bindings: dict[str, str]) -> bool:
    """Does ``actual`` fit ``expected``? Run ids seen the first time are added to ``bindings``."""
    pattern, groups = output_pattern(expected, bindings)
    found = re.fullmatch(pattern, "".join(line + "\n" for line in normal_lines(actual)))
    if found is None:
        return False
    bindings.update({shown: found.group(name) for name, shown in groups.items()})
    return True


# -- running a page ----------------------------------------------------------------------


class ExampleFailed(Exception):
    pass


@dataclass
class PageSession:
    """One page's folder, environment and the run ids it has seen, block after block."""

    page: Path
    folder: Path
    blocks: list[Block]
    bindings: dict[str, str] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    done: int = 0
    last_output: str | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("CADENCIA_", "PYTEST_"))
            and name not in ("FORCE_COLOR", "CLICOLOR_FORCE", "COLUMNS")
        }
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            CADENCIA_HOME=str(self.folder / ".cadencia"),
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
            NO_COLOR="1",
            COLUMNS="80",
        )
        return env

    def run_until(self, index: int) -> None:
        while self.done <= index:
            block = self.blocks[self.done]
            try:
                self.execute(block)
            except ExampleFailed as exc:
                self.failures[block.index] = str(exc)
            except subprocess.TimeoutExpired as exc:
                self.failures[block.index] = f"timed out after {exc.timeout} s: {exc.cmd}"
            self.done += 1

    def execute(self, block: Block) -> None:
        if block.problem:
            raise ExampleFailed(block.problem)
        output, self.last_output = self.last_output, None
        if block.language == "python":
            self._python(block)
        elif block.kind == "make-dry-run":
            for command, _ in commands(block.text):
                self._expect_exit(f"{command} (as make -n)", *self._make_dry_run(command), 0)
        elif block.language == "console":
            for command, expected in commands(block.text):
                self._command(block, command, expected)
        elif block.kind == "output":
            self._compare("the python block above", block.text.splitlines(), output or "")

    def _python(self, block: Block) -> None:
        if block.kind == "file":
            source = block.text
            try:
                compile(source, block.argument, "exec")
            except SyntaxError as exc:
                raise ExampleFailed(f"{block.argument} does not compile: {exc}") from None
            (self.folder / block.argument).write_text(source)
            return
        script = f"example_line_{block.line}.py"
        (self.folder / script).write_text(self._substitute(block.text))
        code, output = self.shell(f"python {script}")
        self._expect_exit(f"python {script}", code, output, int(block.argument or 0))
        self.last_output = output

    def _command(self, block: Block, command: str, expected: list[str]) -> None:
        command = self._substitute(command)
        code, output = self.shell(command)
        self._expect_exit(command, code, output, int(block.argument or 0))
        self._compare(f"$ {command}", expected, output)

    def _compare(self, what: str, expected: list[str], output: str) -> None:
        if not match_output(expected, output, self.bindings):
            shown = "\n".join(f"    {line}" for line in expected) or "    (nothing)"
            printed = "\n".join(f"    {line}" for line in output.splitlines()) or "    (nothing)"
            raise ExampleFailed(
                f"{what} printed what the page does not show.\n  page shows:\n{shown}\n"
                f"  printed:\n{printed}"
            )

    def _expect_exit(self, command: str, code: int, output: str, wanted: int) -> None:
        if code != wanted:
            raise ExampleFailed(
                f"$ {command}\nexited with {code}, the page expects {wanted}; it printed:\n{output}"
            )

    def _substitute(self, text: str) -> str:
        for shown, real in self.bindings.items():
            text = text.replace(shown, real)
        return text

    def shell(self, command: str) -> tuple[int, str]:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        code = done.returncode
        return (128 - code if code < 0 else code), done.stdout

    def _make_dry_run(self, command: str) -> tuple[int, str]:
        arguments = shlex.split(command)[1:]
        done = subprocess.run(
            ["make", "-n", *arguments],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr


def _all_blocks() -> list[Block]:
    return [block for page in PAGES if page.exists() for block in parse(page)[0]]


@pytest.fixture(scope="session")
def sessions() -> dict[Path, PageSession]:
    """The pages started so far in this test session."""
    return {}


@pytest.mark.parametrize("block", _all_blocks(), ids=lambda block: block.name)
def test_example(
    block: Block, sessions: dict[Path, PageSession], tmp_path_factory: pytest.TempPathFactory
) -> None:
    session = sessions.get(block.page)
    if session is None:
        folder = tmp_path_factory.mktemp(block.page.stem.lower())
        session = sessions[block.page] = PageSession(block.page, folder, parse(block.page)[0])
    session.run_until(block.index)
    failure = session.failures.get(block.index)
    if failure is not None:
        earlier = [session.blocks[i].name for i in sorted(session.failures) if i < block.index]
        note = (
            f"\n(earlier examples on this page failed too: {', '.join(earlier)})" if earlier else ""
        )
        pytest.fail(f"{block.name}: {failure}{note}", pytrace=False)


# -- the convention itself -----------------------------------------------------------------


def test_the_required_pages_exist() -> None:
    missing = [name for name in REQUIRED_PAGES if not (DOCS / name).is_file()]
    assert not missing, f"docs/ lacks {missing}"


def test_every_block_is_covered() -> None:
    problems: list[str] = []
    for page in PAGES:
        blocks, page_problems = parse(page)
        problems += page_problems
        problems += [f"{block.name}: {block.problem}" for block in blocks if block.problem]
        for position, block in enumerate(blocks):
            if block.kind == "file" and not any(
                block.argument in later.text for later in blocks[position + 1 :]
            ):
                problems.append(f"{block.name}: no later block uses {block.argument}")
    assert not problems, "\n".join(problems)


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings."""
    anchors = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_links_between_pages_resolve() -> None:
    broken = []
    for page in PAGES:
        for target in _LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} does not exist")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} has no such heading")
    assert not broken, "\n".join(broken)


def test_the_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text()
    unlinked = [
        page.name
        for page in DOCS.glob("*.md")
        if page.name != "index.md" and page.name not in index
    ]
    assert not unlinked, f"docs/index.md does not link {unlinked}"


def test_the_cli_page_names_every_command_and_option() -> None:
    import click

    from cadencia.cli.main import cli

    text = (DOCS / "cli.md").read_text()
    missing: list[str] = []

    def walk(command: click.Command, words: list[str]) -> None:
        name = " ".join(["cadencia", *words])
        if words and f"`{name}" not in text:
            missing.append(name)
        options = [o for p in command.params if isinstance(p, click.Option) for o in p.opts]
        missing.extend(f"{name} {option}" for option in options if option not in text)
        if isinstance(command, click.Group):
            for word, sub in sorted(command.commands.items()):
                walk(sub, [*words, word])

    walk(cli, [])
    assert not missing, f"docs/cli.md does not mention {missing}"


# -- the harness, on made-up pages -----------------------------------------------------------


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


def test_an_untested_block_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    page = _page(
        tmp_path,
        "```bash\nls\n```\n\n```text\nhello\n```\n\n  ```python\nx = 1\n  ```\n"
        "<!-- doc: output -->\nprose\n",
    )
    blocks, problems = parse(page)
    assert [bool(block.problem) for block in blocks] == [True, True, True]
    assert "not runnable" in blocks[0].problem
    assert "needs <!-- doc: output -->" in blocks[1].problem
    assert "no indent" in blocks[2].problem
    assert problems == ["page.md:12: a directive must be on the line right above its code block"]


def test_output_matching_is_loose_about_spacing_durations_and_ellipses() -> None:
    actual = "run 20261124-125335-0a7c5b (q) success in 1.05 s: 3 success\n\nstep   state\n a  b\n"
    bindings: dict[str, str] = {}
    assert match_output(["run 20261124-000000-aaaaaa (q) success in 23 ms: ...", "..."], actual, {})
    assert match_output(["...", "a b"], actual, bindings)
    assert not match_output(["step state"], actual, bindings)  # the first line is not shown
    assert not match_output(["run ... success ...", "step state"], actual, bindings)  # nor "a b"


def test_run_ids_shown_on_a_page_are_bound_to_the_real_ones() -> None:
    bindings: dict[str, str] = {}
    assert match_output(
        ["run 20260101-000000-aaaaaa ok"], "run 20261124-125335-0a7c5b ok", bindings
    )
    assert bindings == {"20260101-000000-aaaaaa": "20261124-125335-0a7c5b"}
    assert match_output(["from 20260101-000000-aaaaaa"], "from 20261124-125335-0a7c5b", bindings)
    assert not match_output(
        ["from 20260101-000000-aaaaaa"], "from 20261124-999999-0a7c5b", bindings
    )


def test_console_commands_and_their_output() -> None:
    text = "$ cadencia run flows.py \\\n    -p n=3\nrun ...\n\n$ cadencia runs\n"
    assert commands(text) == [
        ("cadencia run flows.py -p n=3", ["run ...", ""]),
        ("cadencia runs", []),
    ]
