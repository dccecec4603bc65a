"""The tokens file: what it accepts, how a bad one is reported, look-ups, reloads."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from contextstore.server.security import identities
from contextstore.server.security.identities import (
    Identities,
    Identity,
    TokenFile,
    load,
    parse,
    token_digest,
)

READER = token_digest("reader-token")
WRITER = token_digest("writer-token")

GOOD = f"""\
# who may call
[[identity]]
name = "ci-reader"
token_sha256 = "{READER}"
role = "read"
scope = ["team-a/", "team-b/"]

[[identity]]
name = "agent-7"
cert_subject = "agent-7"
role = "write"
"""


def test_a_good_file_gives_its_identities() -> None:
    table = parse(GOOD, "tokens.toml")

    assert table.all == (
        Identity("ci-reader", "read", ("team-a/", "team-b/"), token_sha256=READER),
        Identity("agent-7", "write", (), cert_subject="agent-7"),
    )


def test_a_token_finds_its_identity_by_digest_and_nothing_else_does() -> None:
    table = parse(GOOD, "tokens.toml")

    found = table.for_token("reader-token")
    assert found is not None and found.name == "ci-reader"
    assert table.for_token("writer-token") is None
    assert table.for_token(READER) is None  # the digest itself is not a token
    assert table.for_token("") is None


def test_a_certificate_finds_the_identity_of_its_cn_or_any_san() -> None:
    table = parse(GOOD, "tokens.toml")

    assert [i.name for i in table.for_subjects(["someone", "agent-7"])] == ["agent-7"]
    assert table.for_subjects(["someone", "ci-reader"]) == []  # names are not subjects


def test_roles_are_ordered_and_a_scope_is_prefixes() -> None:
    scoped = Identity("s", "write", ("team-a/",))
    unscoped = Identity("u", "read")

    assert (scoped.has_role("read"), scoped.has_role("write"), scoped.has_role("admin")) == (
        True,
        True,
        False,
    )
    assert scoped.may_touch("team-a/x") and not scoped.may_touch("team-b/x")
    assert not scoped.may_touch("")  # the global namespace
    assert not scoped.may_touch("team-a")  # a prefix of the prefix is not inside it
    assert unscoped.may_touch("") and unscoped.may_touch("anything")


def _identity(**fields: object) -> str:
    body = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in fields.items())
    return f"[[identity]]\n{body}\n"


GOOD_FIELDS: dict[str, object] = {"name": "x", "token_sha256": WRITER, "role": "write"}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"role": "super"}, "'role' must be one of read, write, admin, got 'super'"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"name": ""}, "'name' must be a non-empty string"),
        ({"token_sha256": WRITER.upper()}, "64 lower-case hex digits"),
        ({"token_sha256": WRITER[:-1]}, "64 lower-case hex digits"),
        ({"cert_subject": "agent"}, "exactly one of 'token_sha256' and 'cert_subject'"),
        ({"token_sha256": None}, "exactly one of 'token_sha256' and 'cert_subject'"),
        ({"scope": ["team-a/", ""]}, "'scope' must be a list of non-empty session-id prefixes"),
        ({"scope": "team-a/"}, "'scope' must be a list of non-empty session-id prefixes"),
        ({"scope": []}, "leave it out for every namespace"),
    ],
)
def test_a_bad_identity_is_refused_naming_the_file_and_its_header_line(
    change: dict[str, object], says: str
) -> None:
    fields = {k: v for k, v in {**GOOD_FIELDS, **change}.items() if v is not None}
    text = GOOD + "\n" + _identity(**fields)  # its [[identity]] is on line 13

    with pytest.raises(ValueError) as raised:
        parse(text, "tokens.toml")

    assert str(raised.value).startswith("tokens.toml, line 13: identity #3: ")
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (_identity(name="ci-reader", token_sha256=WRITER, role="read"), "'ci-reader' is already"),
        (_identity(name="again", token_sha256=READER, role="admin"), "the same token as"),
        (_identity(name="again", cert_subject="agent-7", role="read"), "the same cert_subject"),
    ],
)
def test_duplicates_are_refused(extra: str, says: str) -> None:
    with pytest.raises(ValueError, match=f"tokens.toml, line 13: .*{says}"):
        parse(GOOD + "\n" + extra, "tokens.toml")


def test_a_file_that_does_not_parse_names_the_line() -> None:
    text = GOOD.replace('role = "write"', "role = write")  # line 11

    with pytest.raises(ValueError, match=r"^tokens.toml: not valid TOML: .*at line 11"):
        parse(text, "tokens.toml")


def test_an_unknown_top_level_key_is_refused_with_its_line() -> None:
    text = '# identities\n\nidentities = "x"\n' + GOOD  # a top-level key goes before tables

    with pytest.raises(ValueError, match=r"^tokens.toml, line 3: unknown key 'identities'"):
        parse(text, "tokens.toml")


def test_a_file_that_cannot_be_read_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"

    with pytest.raises(ValueError, match=f"cannot read the tokens file {missing}"):
        load(str(missing))


def test_an_empty_file_is_a_table_of_no_one() -> None:
    assert parse("", "tokens.toml").all == ()


# -- reloading -------------------------------------------------------------------


class Stat:
    """A stat whose facts change only when the test says: edits are seen without sleeping."""

    def __init__(self) -> None:
        self.mtime_ns = 1
        self.calls = 0

    def __call__(self, path: str) -> os.stat_result:
        self.calls += 1
        os.stat(path)  # a missing file still fails as it would
        fields = (0o100600, 1, 1, 1, 0, 0, 100, 0, 0, 0)  # mode, ino, dev, ..., size, times
        return os.stat_result(fields, {"st_mtime_ns": self.mtime_ns, "st_ctime_ns": 0})


def _names(table: Identities) -> list[str]:
    return [i.name for i in table.all]


def test_an_edit_is_read_when_the_file_changes_and_not_before(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(GOOD)
    stat = Stat()
    tokens = TokenFile(str(path), stat=stat, recheck_seconds=0)
    edited = GOOD + "\n" + _identity(**GOOD_FIELDS)

    path.write_text(edited)
    before = _names(tokens.current())  # same stat facts as far as it can tell: not re-read
    stat.mtime_ns += 1

    assert before == ["ci-reader", "agent-7"]
    assert _names(tokens.current()) == ["ci-reader", "agent-7", "x"]


def test_the_file_is_looked_at_once_per_interval_not_on_every_call(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(GOOD)
    stat, now = Stat(), [100.0]
    tokens = TokenFile(str(path), stat=stat, recheck_seconds=1.0, timer=lambda: now[0])
    looked = stat.calls

    path.write_text(GOOD + "\n" + _identity(**GOOD_FIELDS))
    stat.mtime_ns += 1
    within = [_names(tokens.current()) for _ in range(100)]
    now[0] += 1.0
    after = _names(tokens.current())

    assert within == [["ci-reader", "agent-7"]] * 100
    assert stat.calls == looked + 1
    assert after == ["ci-reader", "agent-7", "x"]


def test_a_broken_edit_keeps_the_last_good_table_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(GOOD)
    stat = Stat()
    tokens = TokenFile(str(path), stat=stat, recheck_seconds=0)

    path.write_text(GOOD.replace('"read"', '"reader"'))
    stat.mtime_ns += 1
    with caplog.at_level(logging.INFO, logger="contextstore.server"):
        kept = [_names(tokens.current()) for _ in range(3)]

    assert kept == [["ci-reader", "agent-7"]] * 3
    failures = [r.getMessage() for r in caplog.records if "auth_reload_failed" in r.getMessage()]
    assert len(failures) == 1
    assert "line 2" in failures[0] and "'reader'" in failures[0] and "kept=last_good" in failures[0]


def test_a_removed_file_keeps_the_table_and_a_restored_one_is_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(GOOD)
    tokens = TokenFile(str(path), recheck_seconds=0)  # the real os.stat: a removal changes it

    path.unlink()
    with caplog.at_level(logging.ERROR, logger="contextstore.server"):
        kept = _names(tokens.current())
    path.write_text(_identity(**GOOD_FIELDS))

    assert kept == ["ci-reader", "agent-7"]
    assert "cannot stat the tokens file" in caplog.text
    assert _names(tokens.current()) == ["x"]


def test_a_bad_file_at_start_raises(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(GOOD.replace('"write"', '"root"'))

    with pytest.raises(ValueError, match=rf"^{path}, line 8: identity #2: 'agent-7': 'role'"):
        TokenFile(str(path))


def test_a_table_remembers_matched_headers_up_to_a_bound() -> None:
    table = parse(GOOD, "tokens.toml")
    reader = table.all[0]

    table.remember("Bearer one", reader)
    remembered = table.remembered("Bearer one")
    for i in range(identities.MAX_REMEMBERED):
        table.remember(f"Bearer {i}", reader)

    assert remembered is reader
    assert table.remembered("Bearer one") is None  # forgotten once the bound was reached
    assert table.remembered("Bearer nobody") is None
