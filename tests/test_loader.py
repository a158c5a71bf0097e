"""Unit tests of the position-keeping YAML loader (pipeline/intent/loader.py).

The loader is the first line of defence: it must refuse what PyYAML silently accepts
(duplicate keys, alias bombs, control characters that would become config lines) and
remember where every value was written, so that later findings point at a line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.build import build
from pipeline.cli import main
from pipeline.findings import Loc
from pipeline.intent import loader
from pipeline.intent.loader import (
    LOC_KEY,
    MAX_NODES,
    Document,
    LoadError,
    Source,
    load_file,
    load_text,
    strip_locs,
)

INJECTION = "x\\n username evil privilege 15"
"""A VLAN name as an attacker (or a careless paste) writes it: YAML escapes, double quotes."""


def load_error(text: str, file: str = "f.yaml") -> LoadError:
    with pytest.raises(LoadError) as info:
        load_text(file, text)
    return info.value


def file_error(path: Path, root: Path) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_file(path, root)
    return info.value


def has_source(data: object) -> bool:
    if isinstance(data, Source):
        return True
    if isinstance(data, dict):
        return LOC_KEY in data or any(has_source(v) for v in data.values())
    if isinstance(data, list):
        return any(has_source(v) for v in data)
    return False


# --------------------------------------------------------------------------- plain loading


NESTED = """\
# a comment
site:
  name: hq
  vlans:
    - id: 10
      name: A
    - {id: 20, name: B}
  pools: [10.0.0.0/8, 172.16.0.0/12]
"""


def test_loads_plain_values() -> None:
    doc = load_text("f.yaml", NESTED)
    assert isinstance(doc, Document)
    assert doc.file == "f.yaml"
    assert strip_locs(doc.data) == yaml.safe_load(NESTED)


def test_marks_of_nested_keys_and_list_items() -> None:
    doc = load_text("f.yaml", NESTED)
    m = doc.marks
    assert m[()] == Loc("f.yaml", 2, 1)
    assert m[("site",)] == Loc("f.yaml", 2, 1)           # a block value: the key's line
    assert m[("site", "name")] == Loc("f.yaml", 3, 9)
    assert m[("site", "vlans")] == Loc("f.yaml", 4, 3)
    assert m[("site", "vlans", 0)] == Loc("f.yaml", 5, 7)
    assert m[("site", "vlans", 0, "id")] == Loc("f.yaml", 5, 11)
    assert m[("site", "vlans", 0, "name")] == Loc("f.yaml", 6, 13)
    assert m[("site", "vlans", 1)] == Loc("f.yaml", 7, 7)
    assert m[("site", "vlans", 1, "name")] == Loc("f.yaml", 7, 22)
    assert m[("site", "pools", 1)] == Loc("f.yaml", 8, 23)


def test_source_entries_point_at_values() -> None:
    data = load_text("f.yaml", NESTED).data
    site = data["site"]
    src = site[LOC_KEY]
    assert isinstance(src, Source)
    assert src.at() == Loc("f.yaml", 3, 3)
    assert src.at("name") == Loc("f.yaml", 3, 9)
    assert src.at("nope") == src.at()                    # unknown key: the mapping itself
    item = site["vlans"][1][LOC_KEY]
    assert item.at("id") == Loc("f.yaml", 7, 12)


def test_loc_falls_back_to_nearest_ancestor() -> None:
    doc = load_text("f.yaml", NESTED)
    assert doc.loc(("site", "vlans", 0, "missing", "deeper")) == Loc("f.yaml", 5, 7)
    assert doc.loc(("nothing",)) == Loc("f.yaml", 2, 1)


def test_integer_keys_become_strings() -> None:
    data = strip_locs(load_text("f.yaml", "210: office\n220: servers\n").data)
    assert data == {"210": "office", "220": "servers"}


def test_empty_file_is_none() -> None:
    doc = load_text("f.yaml", "# only a comment\n")
    assert doc.data is None
    assert doc.loc(("a",)) == Loc("f.yaml", 1, 1)


def test_strip_locs_returns_plain_data() -> None:
    doc = load_text("f.yaml", NESTED + "merged: {<<: {a: 1}, b: 2}\n")
    assert has_source(doc.data)
    plain = strip_locs(doc.data)
    assert not has_source(plain)
    assert plain["site"]["vlans"] == [{"id": 10, "name": "A"}, {"id": 20, "name": "B"}]
    assert plain["merged"] == {"a": 1, "b": 2}
    assert json.loads(json.dumps(plain)) == plain        # nothing but JSON types left
    assert LOC_KEY in doc.data["site"]                  # the original is left alone


# --------------------------------------------------------------------------- refusals


def test_duplicate_key_points_at_second_key() -> None:
    err = load_error("a: 1\nb: 2\na: 3\n")
    f = err.finding
    assert (f.code, f.file, f.line, f.column) == ("NP002", "f.yaml", 3, 1)
    assert "'a'" in f.message and "first at line 1" in f.message


def test_duplicate_nested_key() -> None:
    f = load_error("vlans:\n  - id: 10\n    name: A\n    id: 11\n").finding
    assert (f.code, f.line, f.column) == ("NP002", 4, 5)
    assert "first at line 2" in f.message


def test_same_key_in_different_mappings_is_fine() -> None:
    data = strip_locs(load_text("f.yaml", "a: {x: 1}\nb: {x: 2}\n").data)
    assert data == {"a": {"x": 1}, "b": {"x": 2}}


def test_billion_laughs_is_refused() -> None:
    """Refused by counting values, not by a clock (the benchmark times it)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":  # 9**9 = 387 million strings once expanded
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
        prev = name
    f = load_error("\n".join(lines) + "\n").finding
    assert f.code == "NP005"
    assert str(MAX_NODES) in f.message


def test_modest_aliases_are_allowed() -> None:
    data = strip_locs(load_text("f.yaml", "a: &x [1, 2]\nb: *x\nc: *x\n").data)
    assert data == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


@pytest.mark.parametrize("text", [
    "a: &a [*a]\n",
    "a: &a {b: *a}\n",
    "a: &a\n  b:\n    c: *a\n",
], ids=["sequence", "mapping", "indirect"])
def test_recursive_alias_is_refused(text: str) -> None:
    f = load_error(text).finding
    assert f.code == "NP005"
    assert "recursive" in f.message


def test_too_deep_nesting_is_refused() -> None:
    f = load_error("a: " + "[" * 100 + "]" * 100 + "\n").finding
    assert f.code == "NP005"


def test_newline_injection_in_value() -> None:
    text = f'vlans:\n  - id: 210\n    name: "{INJECTION}"\n'
    f = load_error(text).finding
    assert (f.code, f.line, f.column) == ("NP006", 3, 11)
    assert "username evil" in f.message


def test_newline_injection_in_flow_mapping_value() -> None:
    text = f'vlans:\n  - {{id: 210, name: "{INJECTION}", zone: office}}\n'
    f = load_error(text).finding
    assert (f.code, f.line, f.column) == ("NP006", 2, 21)


def test_newline_injection_in_mapping_key() -> None:
    text = f'switches:\n  "{INJECTION}": {{management: {{vlan: 1}}}}\n'
    f = load_error(text).finding
    assert (f.code, f.line, f.column) == ("NP006", 2, 3)


def test_newline_from_block_scalar() -> None:
    f = load_error("banner: |\n  hello\n  username evil privilege 15\n").finding
    assert (f.code, f.line) == ("NP006", 1)


@pytest.mark.parametrize("escape", ["\\r", "\\t", "\\0", "\\e", "\\x7f", "\\N", "\\L", "\\P",
                                    "\\x9b"])
def test_control_characters_are_refused(escape: str) -> None:
    f = load_error(f'name: "a{escape}b"\n').finding
    assert (f.code, f.line) == ("NP006", 1)


def test_control_character_in_list_item() -> None:
    f = load_error('ntp:\n  - 10.0.0.1\n  - "10.0.0.2\\nntp server 6.6.6.6"\n').finding
    assert (f.code, f.line, f.column) == ("NP006", 3, 5)


def test_printable_unicode_is_fine() -> None:
    data = strip_locs(load_text("f.yaml", 'location: "Gent — België"\n').data)
    assert data == {"location": "Gent — België"}


def test_reserved_loc_key_is_refused() -> None:
    f = load_error(f"a: 1\n{LOC_KEY}: 2\n").finding
    assert (f.code, f.line) == ("NP010", 2)


@pytest.mark.parametrize("text", ["true: 1\n", "? [1, 2]\n: x\n", "1.5: x\n", "null: x\n"])
def test_non_string_key_is_refused(text: str) -> None:
    f = load_error(text).finding
    assert (f.code, f.line) == ("NP011", 1)


def test_syntax_error_has_line() -> None:
    f = load_error("a: 1\nb: [1, 2\nc: 3\n").finding
    assert f.code == "NP001"
    assert f.line == 3
    assert "syntax error" in f.message


def test_bad_indentation_has_line() -> None:
    f = load_error("a:\n  b: 1\n c: 2\n").finding
    assert (f.code, f.line) == ("NP001", 3)


def test_multiple_documents_are_refused() -> None:
    f = load_error("a: 1\n---\nb: 2\n").finding
    assert f.code == "NP001"
    assert "more than one" in f.message
    assert f.line in (2, 3)  # the '---' separator or the second document (see the report)


def test_single_explicit_document_is_fine() -> None:
    assert strip_locs(load_text("f.yaml", "---\na: 1\n...\n").data) == {"a": 1}


# --------------------------------------------------------------------------- merge keys


def test_merge_key_copies_values() -> None:
    text = "base: &b {zone: office, subnet: 10.0.0.0/24}\nvlan:\n  <<: *b\n  id: 10\n"
    data = strip_locs(load_text("f.yaml", text).data)
    assert data["vlan"] == {"id": 10, "zone": "office", "subnet": "10.0.0.0/24"}


@pytest.mark.parametrize(("text", "line"), [
    ("base: &b {zone: office, id: 1}\nvlan:\n  <<: *b\n  zone: guest\n", 4),
    ("base: &b {zone: office, id: 1}\nvlan:\n  zone: guest\n  <<: *b\n", 3),
], ids=["explicit-after", "explicit-before"])
def test_explicit_keys_win_over_merged(text: str, line: int) -> None:
    doc = load_text("f.yaml", text)
    assert strip_locs(doc.data)["vlan"] == {"zone": "guest", "id": 1}
    assert doc.marks[("vlan", "zone")] == Loc("f.yaml", line, 9)   # the explicit one
    assert doc.data["vlan"][LOC_KEY].at("zone") == Loc("f.yaml", line, 9)
    assert doc.marks[("vlan", "id")] == Loc("f.yaml", 1, 29)        # merged: at the anchor


def test_first_merge_source_wins() -> None:
    text = "a: &a {k: 1, x: 1}\nb: &b {k: 2, y: 2}\nc:\n  <<: [*a, *b]\n"
    assert strip_locs(load_text("f.yaml", text).data)["c"] == {"k": 1, "x": 1, "y": 2}


def test_merged_value_marks_point_at_the_anchor() -> None:
    text = "base: &b\n  zone: office\nvlan:\n  <<: *b\n  id: 10\n"
    doc = load_text("f.yaml", text)
    assert doc.marks[("vlan", "zone")] == Loc("f.yaml", 2, 9)
    assert doc.marks[("vlan", "id")] == Loc("f.yaml", 5, 7)


def test_merge_of_a_scalar_is_refused() -> None:
    f = load_error("a: &a 1\nb:\n  <<: *a\n").finding
    assert f.code == "NP001"
    assert "merge" in f.message


def test_injection_through_a_merged_anchor_value() -> None:
    f = load_error(f'base: &b {{name: "{INJECTION}"}}\nvlan: {{<<: *b, id: 1}}\n').finding
    assert (f.code, f.line) == ("NP006", 1)


def test_injection_in_a_key_of_an_inline_merge_source() -> None:
    f = load_error(f'vlan:\n  <<: {{"{INJECTION}": 1}}\n  id: 1\n').finding
    assert f.code == "NP006"


# --------------------------------------------------------------------------- files


def test_load_file_names_findings_relative_to_root(tmp_path: Path) -> None:
    path = tmp_path / "intent" / "x.yaml"
    path.parent.mkdir()
    path.write_text("a: 1\n")
    doc = load_file(path, tmp_path)
    assert doc.file == "intent/x.yaml"
    assert doc.marks[("a",)] == Loc("intent/x.yaml", 1, 4)


def test_non_utf8_bytes_point_at_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"name: hq\ndescription: Caf\xe9\nx: 1\n")  # Latin-1 'é'
    f = file_error(path, tmp_path).finding
    assert (f.code, f.file, f.line, f.column) == ("NP004", "x.yaml", 2, 17)
    assert "0xe9" in f.message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert strip_locs(load_file(path, tmp_path).data) == {"a": 1}


def test_non_utf8_after_bom_points_at_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n\xff: 2\n")
    f = file_error(path, tmp_path).finding
    assert (f.code, f.line, f.column) == ("NP004", 2, 1)
    assert "0xff" in f.message


def test_non_utf8_column_after_multibyte_characters(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes("a: é\nb: é".encode() + b"\xff\n")
    f = file_error(path, tmp_path).finding
    assert (f.code, f.line, f.column) == ("NP004", 2, 5)


def test_raw_control_character_points_at_line() -> None:
    f = load_error("a: 1\nb: 2\nc: x\x1by\n").finding
    assert f.code in ("NP001", "NP006")
    assert f.line == 3


def test_raw_control_character_is_refused() -> None:
    f = load_error("a: 1\nb: 2\nc: x\x1by\n").finding
    assert f.code in ("NP001", "NP006")


def test_file_over_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 64)
    small, big = tmp_path / "small.yaml", tmp_path / "big.yaml"
    small.write_bytes(b"a: " + b"x" * 60 + b"\n")   # exactly 64 bytes
    big.write_bytes(b"a: " + b"x" * 61 + b"\n")     # 65 bytes
    assert strip_locs(load_file(small, tmp_path).data) == {"a": "x" * 60}
    f = file_error(big, tmp_path).finding
    assert (f.code, f.file, f.line) == ("NP003", "big.yaml", 1)
    assert "65 bytes" in f.message and "64" in f.message


def test_missing_file(tmp_path: Path) -> None:
    f = file_error(tmp_path / "nope.yaml", tmp_path).finding
    assert (f.code, f.file) == ("NP013", "nope.yaml")


# --------------------------------------------------------------------------- end to end

HQ = "intent/sites/hq.yaml"


def inject(root: Path) -> None:
    path = root / HQ
    text = path.read_text()
    assert text.count("name: OFFICE,") == 1
    path.write_text(text.replace("name: OFFICE,", f'name: "{INJECTION}",'))


def test_injection_stops_the_build(network: Path) -> None:
    clean = build(network, run_lint=False)
    assert clean.ok and clean.rendered       # the example itself renders
    inject(network)
    result = build(network)
    codes = [(f.code, f.file, f.line) for f in result.findings]
    assert codes == [("NP006", HQ, 8)]
    assert not result.ok
    assert result.intent is None
    assert result.rendered == {}
    assert result.devices == {}


def test_cli_render_refuses_injection(network: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    inject(network)
    out = tmp_path / "out"
    code = main(["render", "--root", str(network), "--out", str(out), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1
    report = json.loads(captured.out)
    assert report["hosts"] == {}
    assert [(f["code"], f["file"], f["line"], f["severity"]) for f in report["findings"]] == [
        ("NP006", HQ, 8, "error")]
    assert "username evil" in report["findings"][0]["message"]
    assert not out.exists()
    assert not (network / "build").exists()


# --------------------------------------------------------------------------- YAML 1.2 core


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("-5", -5), ("+5", 5), ("1.5", 1.5), ("1e3", 1000.0), (".inf", float("inf")),
    ("~", None), ("null", None), ("Null", None), ("", None), ("true", True), ("FALSE", False),
    ("yes", "yes"), ("on", "on"), ("n", "n"),                 # YAML 1.1 booleans are text
    ("1:40", "1:40"), ("1_000", "1_000"), ("2001-12-14", "2001-12-14"),
    ("!!str 0322", "0322"), ("'0322'", "0322"), ("! 12", "12"), ("!!int 12", 12),
    ("!!float 1", 1.0), ("!!bool true", True), ("!!null ''", None),
], ids=str)
def test_scalars_resolve_as_yaml_1_2_core(text: str, value: object) -> None:
    assert strip_locs(load_text("f.yaml", f"a: {text}\n").data) == {"a": value}


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("0322", "YAML 1.1 tools read it as octal (210), YAML 1.2 as 322", "write 322"),
    ("-012", "as octal (-10)", "write -12"),
    ("09", "YAML 1.1 tools read it, YAML 1.2 as 9", "write 9"),
    ("0xD2", "not a decimal number", "write 210 in decimal"),
    ("0o17", "not a decimal number", "write 15 in decimal"),
    ("0b11", "not a decimal number", "write 3 in decimal"),
    ("1" * 21, "more than 20 digits", "that large"),
    ("!!int 0x10", "not a decimal number", "write 16 in decimal"),
    ("!!int ten", "not a valid !!int", "fix the value"),
    ("!!bool yes", "not a valid !!bool", "fix the value"),
], ids=str)
def test_numbers_1_1_and_1_2_disagree_on_are_refused(text: str, message: str, hint: str) -> None:
    f = load_error(f"a: {text}\n").finding
    assert (f.code, f.line, f.column) == ("NP008", 1, 4)
    assert message in f.message
    assert hint in f.hint


@pytest.mark.parametrize("text", [
    "!!python/name:os.system ''", "!!python/object/apply:os.system ['id']", "!!binary aGk=",
    "!!timestamp 2001-12-14", "!include x.yaml", "!!set {a, b}", "!!omap [a: 1]",
    "!!seq {a: 1}", "!!map [1]",
], ids=str)
def test_tags_other_than_core_are_refused(text: str) -> None:
    f = load_error(f"a: 1\nb: {text}\n").finding
    assert (f.code, f.line, f.column) == ("NP007", 2, 4)
    assert "not allowed" in f.message


@pytest.mark.parametrize(("key", "read"), [
    ("name", "name"), ('"<<"', "<<"), ("'null'", "null"), ('""', ""), ("12", "12"),
    ("-1", "-1"), ("+x", "+x"), ("x<y", "x<y"), ("a" * 128, "a" * 128),
    ("null", "NP011"), ("~", "NP011"), ("True", "NP011"), (".5", "NP011"), ("012", "NP008"),
    (f'"{LOC_KEY}"', "NP010"), ("a" * 129, "NP005"), ('"a\u200bb"', "NP006"),
    ("'{{x}}'", "NP009"), ("'<secret:X>'", "NP031"), ("[1]", "NP011"),
])
def test_every_form_of_key(key: str, read: str) -> None:
    """Keys that are plainly names take a shorter way through the loader than the rest:
    each form reads (or is refused) as the YAML 1.2 rules say, whichever way it takes."""
    if read.startswith("NP"):
        assert load_error(f"{key}: v\n").finding.code == read
    else:
        assert strip_locs(load_text("f.yaml", f"{key}: v\n").data) == {read: "v"}


def test_a_numeric_key_with_a_leading_zero_is_refused() -> None:
    assert load_error("0322: x\n").finding.code == "NP008"


def test_same_result_whichever_parser_produces_the_events(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """The YAML 1.2 resolution is ours: libyaml's event stream gives the same document."""
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    text = NESTED + "n: [0, 1.5, yes, ~, !!str 12, '07', 1:40]\nm: {<<: {a: 1}, b: 2}\n"
    python = load_text("f.yaml", text)
    monkeypatch.setattr(loader, "PARSER", yaml.CSafeLoader)
    c = load_text("f.yaml", text)
    assert strip_locs(c.data) == strip_locs(python.data)
    assert c.marks == python.marks
    assert load_error("a: 0322\n").finding == load_error("a: 0322\n").finding


BAD_DOCUMENTS = [
    "a: " + "[" * 2000 + "]" * 2000 + "\n",   # libyaml stops at 1,000 levels, we at 64
    "a: [1, 2\nb: 3\n",                      # unclosed flow sequence
    "a: 1\n\tb: 2\n",                        # tab indentation
    "a: *nowhere\n",                          # unknown alias
    "a: 1\na: 2\n",                           # duplicate key (ours)
    "a: 'x\x01y'\n",                          # a control character (the reader's)
    "a: {b: 1\n",                             # unclosed flow mapping at the end
    "--- 1\n--- 2\n",                         # two documents (ours)
    "a: b: c\n",                              # mapping values not allowed here
]


@pytest.mark.parametrize("text", BAD_DOCUMENTS)
def test_the_same_finding_from_either_parser(text: str, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """A file libyaml refuses is parsed again by PyYAML's parser: every error finding is
    the one the pure-Python parser (and the loader's own limits) give."""
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    monkeypatch.setattr(loader, "PARSER", yaml.CSafeLoader)
    fast = load_error(text).finding
    monkeypatch.setattr(loader, "PARSER", yaml.SafeLoader)
    assert fast == load_error(text).finding


def test_libyaml_parses_by_default() -> None:
    assert loader.PARSER is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------- limits


def test_2000_deep_nesting_is_a_finding_not_a_recursion_error() -> None:
    f = load_error("a: " + "[" * 2000 + "]" * 2000 + "\n").finding
    assert (f.code, f.line, f.column) == ("NP005", 1, 4 + loader.MAX_DEPTH - 1)


def test_nesting_through_aliases_is_bounded() -> None:
    deep = "[" * 40 + "]" * 40
    f = load_error(f"a: &a {deep}\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n").finding
    assert f.code == "NP005"


def test_an_alias_of_a_mapping_as_key_is_refused_at_the_alias() -> None:
    f = load_error("a: &a {x: 1}\nb:\n  ? *a\n  : 1\n").finding
    assert (f.code, f.line, f.column) == ("NP011", 3, 5)


def test_an_alias_of_a_scalar_as_key_is_fine() -> None:
    assert strip_locs(load_text("f.yaml", "a: &k name\nb: {*k : 1}\n").data)["b"] == {"name": 1}


def test_self_referencing_merge_key_is_refused() -> None:
    f = load_error("a: &a {<<: *a, k: 1}\n").finding
    assert (f.code, f.line) == ("NP005", 1)
    assert "own mapping" in f.message


def test_merge_fan_out_is_linear() -> None:
    lines = ["m0: &m0 {k0: 0}"] + [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: {i}}}"
                                   for i in range(1, 40)]
    data = strip_locs(load_text("f.yaml", "\n".join(lines) + "\n").data)
    assert data["m39"] == {f"k{i}": i for i in range(40)}


def test_merge_chains_that_grow_quadratically_are_bounded() -> None:
    lines = ["c0: &c0 {k0: 1}"] + [f"c{i}: &c{i} {{<<: *c{i - 1}, k{i}: 1}}"
                                   for i in range(1, 2000)]
    f = load_error("\n".join(lines) + "\n").finding
    assert f.code == "NP005"
    assert "merge-key expansion" in f.message


def test_a_key_over_the_limit_is_refused_with_an_excerpt() -> None:
    f = load_error("k" * 200 + ": 1\n").finding
    assert (f.code, f.line) == ("NP005", 1)
    assert "k" * 33 not in f.message


def test_messages_quote_only_an_excerpt() -> None:
    payload = "x" * 500
    f = load_error(f'a: "{payload}\\n"\n').finding
    assert f.code == "NP006"
    assert "x" * 33 not in f.message


@pytest.mark.parametrize("char", ["\\u202e", "\\u200b", "\\ufeff", "\\u2066"])
def test_invisible_and_bidi_characters_are_refused(char: str) -> None:
    assert load_error(f'a: "admin{char}x"\n').finding.code == "NP006"


def test_template_syntax_in_a_value_is_refused() -> None:
    f = load_error("a: ok\nb: 'uplink {{ 7*7 }}'\n").finding
    assert (f.code, f.line) == ("NP009", 2)


def test_secret_placeholder_in_a_value_is_refused() -> None:
    f = load_error("description: 'x <secret:NETPIPE_PASSWORD>'\n").finding
    assert (f.code, f.line) == ("NP031", 1)


def test_a_clean_file_is_composed_in_c(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event path is for files the fast path refuses; a clean file never takes it."""
    def no_events(*args: object) -> None:
        raise AssertionError("composed from events")

    monkeypatch.setattr(loader, "_compose", no_events)
    doc = load_text("f.yaml", "a: 1\nb: [x, 'y', 0.5]\nc: &c {d: ~}\ne: *c\nf: >-\n  t\n")
    assert strip_locs(doc.data) == {"a": 1, "b": ["x", "y", 0.5], "c": {"d": None},
                                    "e": {"d": None}, "f": "t"}
    assert doc.marks[("b", 1)] == Loc("f.yaml", 2, 8)


def test_a_non_specific_tag_makes_text_whichever_composer() -> None:
    """libyaml calls '! 3' plain and implicit; YAML (and the event path) read text."""
    assert load_text("f.yaml", "a: ! 3\nb: 3\n").data["a"] == "3"
    assert load_text("f.yaml", "a: ! 3\nb: 3\n").data["b"] == 3


def test_the_quick_text_check_lets_nothing_through() -> None:
    # check_text skips its three checks when no character they start with is in the value.
    for bad in ["a\x00b", "x\x1f", "\x85", "a\u2028b", "\u202e", "\ufeff", "{{ x }}",
                "{% if %}", "{# c #}", "<secret:ENABLE>"]:
        assert loader._SUSPECT.search(bad), repr(bad)
        with pytest.raises(loader.LoadError):
            loader.load_text("x.yaml", f"key: {bad!r}\n".replace("'", '"'))
