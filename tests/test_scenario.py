"""Scenario loading, overrides, extends, TOML round trips and every validation rule."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import FIELDS, valid_overrides

import mcengine
from mcengine.checks import Range
from mcengine.errors import ScenarioError
from mcengine.model import builtins as builtins_module
from mcengine.model import scenario as scenario_module
from mcengine.model.parameters import SECTIONS, Stress
from mcengine.model.scenario import Scenario, builtin_scenarios, load_scenario, parse_override

#: The model contract, pinned in the repository (tests/test_docs.py keeps it equal to the
#: steering copy, ../shared/MODEL.md, wherever that is present).
SHARED_MODEL = Path(__file__).resolve().parent / "data" / "MODEL.md"
MODEL_DOC = Path(__file__).resolve().parents[1] / "docs" / "model.md"


FIELD_IDS = [f"{s}.{f.name}" for s, f in FIELDS]


def test_builtins_exist_and_base_is_first():
    names = builtin_scenarios()
    assert names[0] == "base"
    assert {"training_bust", "open_weights_win", "agentic_boom", "inference_glut"} <= set(names)


def test_base_file_equals_model_defaults():
    assert load_scenario("base") == Scenario()


def model_2_table() -> dict[str, tuple[str, str]]:
    """docs/model.md's table of model 2's keys: ``section.key -> (base, range)``, the keys
    model 2 adds or whose base value it changes."""
    rows = {}
    for line in MODEL_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`\w+\.\w+`", cells[0]):
            base = cells[1].replace("−", "-").split(" ")[0]
            rows[cells[0].strip("`")] = (base, cells[2].replace("−", "-"))
    return rows


def test_defaults_and_ranges_match_model_md():
    """Every key of MODEL.md's table exists with its base value, as model 2 (docs/model.md)
    amends it, and nothing else does."""
    table = {key: base for key, (base, _) in model_2_table().items()}
    for line in SHARED_MODEL.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in SECTIONS and "≈" not in line:
            keys = [k.strip() for k in cells[1].split(",")]
            bases = [b.strip() for b in cells[2].split(",")] if len(keys) > 1 else [cells[2]]
            for key, base in zip(keys, bases, strict=True):
                table.setdefault(f"{cells[0]}.{key}", base)
    ours = {f"{s}.{f.name}": f.default for s, f in FIELDS}
    assert set(table) == set(ours)
    for key, text in table.items():
        expected = [float(v) for v in text.strip("[]").split(",")]
        value = ours[key]
        got = list(value) if isinstance(value, tuple) else [value]
        assert got == pytest.approx(expected), key


def model_md_ranges() -> dict[str, Range]:
    """The valid range of each key, read from the last column of MODEL.md's table."""
    ranges = {}
    for line in SHARED_MODEL.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] not in SECTIONS or "≈" in line:
            continue
        text = cells[3].replace("−", "-").replace("–", " to ")
        if cells[1] == "steps_per_year":  # "1, 2, 4 or 12"
            rng = Range(choices=tuple(int(x) for x in re.findall(r"\d+", text)))
        else:
            inner = re.findall(r"\(([^()]*)\)\s*$", text)[0].split(";")[0]
            number = r"-?[\d.]+"
            if inner == "0 < s < 1":
                rng = Range(0.0, 1.0, lo_open=True, hi_open=True)
            elif m := re.fullmatch(rf"≥({number})", inner):
                rng = Range(float(m[1]))
            elif m := re.fullmatch(rf"(integer )?(>)?({number}) to ({number}|horizon)", inner):
                # The crash window's upper end is the horizon (checked across fields),
                # whose own upper end is 100.
                hi = 100.0 if m[4] == "horizon" else float(m[4])
                rng = Range(float(m[3]), hi, lo_open=bool(m[2]), integer=bool(m[1]))
            else:
                raise AssertionError(f"unparsed range {inner!r} of {cells[1]}")
        for key in cells[1].split(","):
            ranges[f"{cells[0]}.{key.strip()}"] = rng
    return ranges


def test_ranges_match_model_md():
    """Every key's range is MODEL.md's, bound for bound, open or closed."""
    ours = {f"{s}.{f.name}": f.metadata["range"] for s, f in FIELDS}
    theirs = model_md_ranges()
    for key, (_, text) in model_2_table().items():
        lo, hi = (float(x) for x in text.strip("[]").split(","))
        theirs[key] = Range(lo, hi)
    assert set(theirs) == set(ours)
    for key, rng in theirs.items():
        assert ours[key] == rng, key


@pytest.mark.parametrize("name", builtin_scenarios())
def test_builtin_round_trips_through_toml(name, tmp_path):
    sc = load_scenario(name)
    path = tmp_path / f"{name}.toml"
    path.write_text(sc.to_toml(), encoding="utf-8")
    again = load_scenario(path)
    assert again == sc
    assert again.to_toml().splitlines()[1:] == sc.to_toml().splitlines()[1:]


def test_to_toml_comments_every_key_and_puts_the_stress_tables_last():
    text = load_scenario("deepseek_shock").to_toml()
    lines = text.splitlines()
    assert lines[0] == "# scenario: deepseek_shock" and "stress = [" not in text
    # [[stress]] where TOML puts arrays of tables: after every [section]
    headers = [line for line in lines if line.startswith("[")]
    assert headers == [f"[{s}]" for s in SECTIONS] + ["[[stress]]"]
    # each key says what it means and its range, from the one declaration of both
    for line in lines:
        if "=" in line:
            assert re.search(r"  # \S.*; (each )?(in|an integer in|one of) ", line), line
    assert "useful_life = 5.0             # years; in [0.5, 30]" in lines
    assert "training_cost = -0.5  # log shock to the training-cost index; in [-5, 5]" in lines
    # short lists on one line; a distribution's comment above it when the line is long
    premium = "initial_premium = [1.0, 1.5, 2.5]      # A, I, T: today's price / fair value"
    assert f"{premium}; each in (0, 20]" in lines
    beliefs = load_scenario("beliefs").to_toml().splitlines()
    at = beliefs.index('brand_moat = { dist = "pert", min = 0.1, mode = 0.2, max = 0.4 }')
    assert beliefs[at - 1] == "# share of closed-token revenue the brand keeps; in [0, 1]"
    assert max(len(line) for line in beliefs) <= 100
    assert beliefs[-3:] == [
        '    ["training_cost.decline_median", "open_share.drift", 0.3],',
        '    ["demand.growth_long_run", "demand.jump_rate", 0.3],',
        "]",
    ]


def test_to_toml_keeps_every_bit_of_every_number():
    values = {"demand.volatility": 0.1 + 0.2, "training_cost.decline_median": 1e-300,
              "valuation.initial_premium": [1 / 3, 2.0, 19.999999999999996]}  # fmt: skip
    sc = load_scenario("deepseek_shock", values)
    import tomllib

    again = Scenario.from_mapping(tomllib.loads(sc.to_toml()))
    assert again == sc and again.demand.volatility == 0.1 + 0.2
    assert again.valuation.initial_premium == (1 / 3, 2.0, 19.999999999999996)


@pytest.mark.parametrize("name", builtin_scenarios())
def test_builtin_files_tell_their_story(name):
    assert len(scenario_module.builtin_story(name)) > 20
    text = (scenario_module.builtin_dir() / f"{name}.toml").read_text(encoding="utf-8")
    assert "Public facts behind the numbers" in text
    if name != "base":
        assert 'extends = "base"' in text


def test_extends_merges_per_key(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'extends = "training_bust"\n[demand]\nvolatility = 0.3\n[training]\nopex = 0.3\n',
        encoding="utf-8",
    )
    sc = load_scenario(path)
    bust = load_scenario("training_bust")
    assert sc.demand.volatility == 0.3
    # A section the parent sets too keeps the parent's other keys.
    assert sc.training == dataclasses.replace(bust.training, opex=0.3)
    assert sc.demand.jump_rate == bust.demand.jump_rate
    assert sc.name == "mine"


def test_overrides_apply_and_validate():
    sc = load_scenario("base", {"demand.volatility": 0.3, "valuation.initial_premium": [1, 2, 3]})
    assert sc.demand.volatility == 0.3
    assert sc.valuation.initial_premium == (1.0, 2.0, 3.0)
    assert (
        sc.with_overrides({"demand.volatility": 0.2, "valuation.initial_premium": [1, 1.5, 2.5]})
        == Scenario()
    )
    with pytest.raises(
        ScenarioError, match=r"^overrides: demand\.volatility = 5, must be in \[0, 2\]$"
    ):
        sc.with_overrides({"demand.volatility": 5})


def test_scenario_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Scenario().demand.volatility = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Scenario().name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Range(0.0, 1.0).hi = 2.0  # type: ignore[misc]
    for section in (*SECTIONS, "stress"):
        cls = SECTIONS.get(section, Stress)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cls(), dataclasses.fields(cls)[0].name, 1.0)


def _outside(rng):
    if rng.choices:
        return 3
    if rng.hi != math.inf:
        return rng.hi + 1 if not rng.integer else int(rng.hi) + 1
    return rng.lo - 1


@pytest.mark.parametrize(("section", "f"), FIELDS, ids=FIELD_IDS)
def test_every_key_rejects_out_of_range(section, f):
    rng = f.metadata["range"]
    bad = _outside(rng)
    value = [bad, 1, 1] if f.metadata["triple"] else bad
    label = f"{section}.{f.name}[0]" if f.metadata["triple"] else f"{section}.{f.name}"
    with pytest.raises(ScenarioError) as err:
        load_scenario("base", {f"{section}.{f.name}": value})
    message = str(err.value)
    assert message.startswith(f"scenarios/base.toml with overrides: {label} = ")
    assert str(rng) in message


@pytest.mark.parametrize(("section", "f"), FIELDS, ids=FIELD_IDS)
def test_every_key_rejects_wrong_types(section, f):
    for value in ("abc", True, math.nan):
        with pytest.raises(ScenarioError, match=rf"{section}\.{f.name}"):
            load_scenario("base", {f"{section}.{f.name}": value})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"demand.volatility": -0.2}, "demand.volatility = -0.2, must be in [0, 2]"),
        ({"open_share.initial": 1.0}, "open_share.initial = 1, must be in (0, 1)"),
        ({"inference.capacity_initial": 0}, "inference.capacity_initial = 0, must be in (0, 10]"),
        (
            {"simulation.steps_per_year": 3},
            "simulation.steps_per_year = 3, must be one of 1, 2, 4, 12",
        ),
        (
            {"simulation.horizon_years": 2.5},
            "simulation.horizon_years = 2.5, must be an integer in [1, 100]",
        ),
        ({"inference.scarcity_cap": 0.5}, "inference.scarcity_cap = 0.5, must be in [1, inf)"),
        ({"demand.volatility": math.inf}, "demand.volatility = inf, must be in [0, 2]"),
        ({"demand.volatility": "high"}, 'demand.volatility = "high", must be a number in [0, 2]'),
        (
            {"valuation.initial_premium": [1, 2]},
            "valuation.initial_premium = [1, 2], must be a list of 3 numbers (applications, "
            "inference, training), each in (0, 20]",
        ),
        (
            {"valuation.initial_premium": [1, 2, 0]},
            "valuation.initial_premium[2] = 0, must be in (0, 20]",
        ),
        (
            {"valuation.crash_window_years": 11},
            "valuation.crash_window_years = 11, must be in (0, 10] (at most "
            "simulation.horizon_years = 10)",
        ),
        (
            {"correlation.cost_open": 1.0},
            "correlation.cost_open = 1, correlation.cost_demand = 0, correlation.open_demand = 0: "
            "the driver correlation matrix must be positive definite",
        ),
        (
            {
                "correlation.cost_open": 0.9,
                "correlation.cost_demand": 0.9,
                "correlation.open_demand": -0.9,
            },
            "must be positive definite",
        ),
        ({"demand.volatilty": 1}, "unknown key demand.volatilty; did you mean demand.volatility?"),
        ({"demnd.volatility": 1}, "unknown section [demnd]; did you mean demand?"),
        ({"volatility": 1}, "'volatility' must be written section.key"),
    ],
)
def test_validation_messages(overrides, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario("base", overrides, overrides_source="--set")
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[demand]\nvolatility = -0.2\n", "{p}: demand.volatility = -0.2, must be in [0, 2]"),
        (
            "[demand]\nvolatilityy = 1\n",
            "{p}: unknown key demand.volatilityy; did you mean demand.volatility?",
        ),
        ("[bogus]\nx = 1\n", "{p}: unknown section [bogus]"),
        ("demand = 3\n", "{p}: demand must be a table of keys, not a value"),
        ('extends = "nope"\n', '{p}: extends = "nope", must be one of base,'),
        ("extends = 3\n", "{p}: extends = 3, must be one of base,"),
        ("[demand\n", "{p}: not valid TOML"),
    ],
)
def test_file_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert message.format(p=path) in str(err.value)


def test_binary_garbage_and_huge_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.toml"
    garbage.write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(ScenarioError, match="not a UTF-8 text file"):
        load_scenario(garbage)
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * (2 << 20), encoding="utf-8")
    with pytest.raises(ScenarioError, match="must be at most 1048576"):
        load_scenario(huge)


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "[demand]\nvolatility = " + "{a=" * 2000 + "1" + "}" * 2000 + "\n",
    ],
)
def test_deeply_nested_files_are_refused(tmp_path, text):
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"deep.toml: not valid TOML \(nested too deeply\)"):
        load_scenario(path)


def test_unknown_names_and_missing_files():
    with pytest.raises(
        ScenarioError, match='scenario = "bsae", must be a built-in .*did you mean base'
    ):
        load_scenario("bsae")
    with pytest.raises(ScenarioError, match="no/such.toml: no such scenario file"):
        load_scenario("no/such.toml")


def test_extends_cycle_is_detected(tmp_path, monkeypatch):
    (tmp_path / "a.toml").write_text('extends = "b"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a"\n', encoding="utf-8")
    monkeypatch.setattr(scenario_module, "builtin_dir", lambda: tmp_path)
    monkeypatch.setattr(builtins_module, "builtin_dir", lambda: tmp_path)
    with pytest.raises(
        ScenarioError, match=r"b.toml: extends = \"a\" makes a cycle \(a -> b -> a\)"
    ):
        load_scenario("a")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demand.volatility=0.3", ("demand.volatility", 0.3)),
        ("valuation.initial_premium=[1, 2, 3]", ("valuation.initial_premium", [1, 2, 3])),
        ("simulation.horizon_years = 20", ("simulation.horizon_years", 20)),
        ("demand.volatility=high", ("demand.volatility", "high")),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


def test_parse_override_requires_key_and_value():
    with pytest.raises(ScenarioError, match="must be written section.key=VALUE"):
        parse_override("demand.volatility")


# -- property tests ---------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, derandomize=True)
@given(valid_overrides())
def test_random_valid_scenarios_round_trip(overrides):
    sc = load_scenario("base", overrides)
    again = Scenario.from_mapping(sc.to_dict())
    assert again == sc
    import tomllib

    assert Scenario.from_mapping(tomllib.loads(sc.to_toml())) == sc


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.sampled_from(FIELDS), st.data())
def test_random_invalid_values_name_their_key(field_, data):
    section, f = field_
    rng = f.metadata["range"]
    bad = data.draw(
        st.one_of(
            st.just(_outside(rng)),
            st.text(max_size=5),
            st.floats(allow_nan=True).filter(lambda v: not (rng.contains(v) and math.isfinite(v))),
        )
    )
    value = [bad, bad, bad] if f.metadata["triple"] else bad
    with pytest.raises(ScenarioError, match=rf"{section}\.{f.name}"):
        load_scenario("base", {f"{section}.{f.name}": value})


def test_library_exports():
    assert mcengine.load_scenario is load_scenario
    assert callable(mcengine.simulate) and callable(mcengine.summarize)


def test_messages_stay_on_one_line_whatever_the_input(tmp_path):
    # Found by tests/test_fuzz_documents.py: a value with a carriage return split the message.
    path = tmp_path / "ctrl.toml"
    path.write_text('[demand]\nvolatility = "a\\rb\\nc"\n"bad\\nkey" = 1\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "\n" not in str(err.value) and "\r" not in str(err.value)
    for name in ("odd\nname", "x\r.toml"):
        with pytest.raises(ScenarioError) as err:
            load_scenario(name)
        assert "\n" not in str(err.value) and "\r" not in str(err.value)


def test_crash_window_may_equal_the_horizon_but_not_exceed_it():
    ok = load_scenario("base", {"simulation.horizon_years": 4, "valuation.crash_window_years": 4})
    assert ok.valuation.crash_window_years == 4
    with pytest.raises(
        ScenarioError,
        match=r": valuation\.crash_window_years = 4\.5, must be in \(0, 4\] \(at most "
        r"simulation\.horizon_years = 4\)$",
    ):
        load_scenario("base", {"simulation.horizon_years": 4, "valuation.crash_window_years": 4.5})


def test_stress_years_must_be_step_ends_within_the_horizon():
    def scenario(year, steps_per_year=4):
        return Scenario.from_mapping(
            {
                "simulation": {"steps_per_year": steps_per_year, "horizon_years": 5},
                "stress": [{"year": 1, "demand": -0.5}, {"year": year, "sentiment": -0.2}],
            }
        )

    assert scenario(2.25).stress[1].year == 2.25
    assert scenario(5).stress[1].year == 5  # the last step's end
    for year, per_year in [(2.3, 4), (2.25, 2), (5.25, 4), (6, 1)]:
        unit = "a whole year" if per_year == 1 else rf"a multiple of 1/{per_year} year"
        with pytest.raises(
            ScenarioError,
            match=rf"^scenario: stress\[1\]\.year = {year:g}, must be a step end \({unit}\) "
            rf"in \(0, 5\]$",
        ):
            scenario(year, per_year)


def test_correlation_matrix_and_its_positive_definiteness():
    sc = load_scenario(
        "base",
        {
            "correlation.cost_open": 0.5,
            "correlation.cost_demand": -0.3,
            "correlation.open_demand": 0.2,
        },
    )
    assert sc.correlation_matrix().tolist() == [[1.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 1.0]]
    with pytest.raises(ScenarioError, match=r"correlation matrix must be positive definite$"):
        load_scenario(
            "base",
            {
                "correlation.cost_open": 0.9,
                "correlation.cost_demand": 0.9,
                "correlation.open_demand": -0.9,
            },
        )


def test_long_paths_are_shortened_in_messages(tmp_path):
    deep = tmp_path / ("d" * 150) / ("e" * 150)
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(deep / "missing.toml"))
    label = str(err.value).removesuffix(": no such scenario file")
    assert len(label) == 200 and label.endswith("...")
    deep.mkdir(parents=True)
    bad = deep / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(bad))
    label = str(err.value).removesuffix(": not a UTF-8 text file")
    assert len(label) == 200 and label.endswith("...")


def test_stress_tables_are_checked_like_sections():
    with pytest.raises(
        ScenarioError,
        match=r"^x: unknown key stress\[1\]\.demnad; did you mean stress\[1\]\.demand\?$",
    ):
        Scenario.from_mapping({"stress": [{"year": 1}, {"year": 2, "demnad": -1}]}, source="x")
    # Sections after the stress tables are still checked.
    with pytest.raises(ScenarioError, match=r"^x: unknown section \[demnd\]; did you mean demand"):
        Scenario.from_mapping({"stress": [{"year": 1}], "demnd": {"volatility": 1}}, source="x")


def test_load_scenario_options_are_keyword_only():
    with pytest.raises(TypeError):
        load_scenario("base", None, "mine")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Scenario.from_mapping({}, "x")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Scenario().with_overrides({}, "x")  # type: ignore[misc]


def test_what_counts_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text("[demand]\nvolatility = 0.3\n", encoding="utf-8")
    assert load_scenario("mine.toml").demand.volatility == 0.3  # a .toml name, no folder
    other = tmp_path / "mine.conf"
    other.write_text("[demand]\nvolatility = 0.25\n", encoding="utf-8")
    assert load_scenario(str(other)).demand.volatility == 0.25  # a folder, any suffix
    assert load_scenario(Path("mine.conf")).demand.volatility == 0.25  # a Path


def test_a_path_that_cannot_be_resolved_is_labelled_as_given(tmp_path, monkeypatch):
    path = tmp_path / "bad.toml"
    path.write_text("[demand]\nvolatility = 9\n", encoding="utf-8")

    def refuse(self, strict=False):
        raise PermissionError("denied")

    monkeypatch.setattr(Path, "resolve", refuse)
    with pytest.raises(ScenarioError, match=rf"^{re.escape(str(path))}: demand\.volatility = 9"):
        load_scenario(path)


def test_a_file_of_exactly_the_size_limit_is_read(tmp_path):
    path = tmp_path / "padded.toml"
    text = "[demand]\nvolatility = 0.3\n"
    path.write_text(text + "#" * (scenario_module.MAX_FILE_BYTES - len(text)), encoding="utf-8")
    assert load_scenario(path).demand.volatility == 0.3
    path.write_text(text + "#" * (scenario_module.MAX_FILE_BYTES + 1 - len(text)), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"must be at most 1048576$"):
        load_scenario(path)


@pytest.mark.parametrize("stress", [3, [1], [{"year": 1}, "x"]])
def test_stress_must_be_a_list_of_tables(stress):
    with pytest.raises(ScenarioError, match=r"^x: stress must be a list of \[\[stress\]\] tables$"):
        Scenario.from_mapping({"stress": stress}, source="x")


def test_stress_keys_default_and_ranges_match_docs_model_md():
    text = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("Ranges: demand"))
    documented = {}
    for keys, lo, hi in re.findall(r"([a-z_, ]+?) in \[([−\d.]+), ([−\d.]+)\]", line):
        for key in filter(None, re.split(r",\s*|\s+and\s+", keys.removeprefix("Ranges: "))):
            documented[key.strip()] = Range(
                float(lo.replace("−", "-")), float(hi.replace("−", "-"))
            )
    ranges = {f.name: f.metadata["range"] for f in dataclasses.fields(Stress)}
    assert ranges.pop("year") == Range(0.0, 100.0, lo_open=True)
    assert ranges == documented
    # A [[stress]] table without a year shocks the end of year 1; other keys default to 0.
    shock = Scenario.from_mapping({"stress": [{"demand": -0.5}]}).stress[0]
    assert (shock.year, shock.sentiment, shock.open_share, shock.training_cost) == (1, 0, 0, 0)
    assert Scenario.from_mapping({"stress": [{"year": 2}]}).stress[0].demand == 0


def test_ranges_print_as_intervals():
    assert str(Range(hi=3.0)) == "(-inf, 3]"
    assert str(Range(0.5, 2.0, hi_open=True)) == "[0.5, 2)"
    assert str(Range(1.0)) == "[1, inf)"
    assert str(Range(choices=(1, 2, 4))) == "1, 2, 4"


def test_user_text_in_messages_is_escaped_and_shortened():
    key = "k" * 58 + "\n" + "x" * 20
    with pytest.raises(ScenarioError) as err:
        load_scenario("base", {f"demand.{key}": 1})
    # 60 characters of the key as escaped ("\n" is two), the last three of them "...".
    assert str(err.value).endswith("unknown key demand." + "k" * 57 + "...")
    with pytest.raises(ScenarioError) as err:
        load_scenario("base", {f"demand.{'k' * 60}": 1})
    assert str(err.value).endswith("unknown key demand." + "k" * 60)
    with pytest.raises(ScenarioError, match="unknown key demand.volatilité; did you mean"):
        load_scenario("base", {"demand.volatilité": 1})  # readable, not \u00e9


@pytest.mark.parametrize(("value", "shown"), [(True, "true"), (False, "false")])
def test_booleans_are_shown_as_toml_writes_them(value, shown):
    with pytest.raises(
        ScenarioError, match=rf"demand\.volatility = {shown}, must be a number in \[0, 2\]$"
    ):
        load_scenario("base", {"demand.volatility": value})


def test_overrides_keep_the_stress_tables(tmp_path):
    stressed = Scenario.from_mapping({"stress": [{"year": 2, "demand": -0.5}]})
    again = stressed.with_overrides({"demand.volatility": 0.3})
    assert again.stress == stressed.stress and again.demand.volatility == 0.3
    path = tmp_path / "stressed.toml"
    path.write_text(stressed.to_toml(), encoding="utf-8")
    loaded = load_scenario(path, {"demand.volatility": 0.3})
    assert loaded.stress == stressed.stress and loaded.demand.volatility == 0.3


def test_sections_must_be_their_classes():
    with pytest.raises(ScenarioError, match=r"^demand must be a Demand section$"):
        Scenario(demand={"volatility": 0.3})  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"^stress\[0\] must be a Stress$"):
        Scenario(stress=({"year": 1},))  # type: ignore[arg-type]


def test_extends_may_name_a_file_relative_to_the_one_that_extends_it(tmp_path, monkeypatch):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "house.toml").write_text(
        'extends = "training_bust"\n[demand]\nvolatility = 0.31\n', encoding="utf-8"
    )
    (tmp_path / "mine.toml").write_text(
        'extends = "shared/house.toml"\n[training]\nopex = 0.3\n', encoding="utf-8"
    )
    monkeypatch.chdir("/")  # relative to the file, not to the working directory
    sc = load_scenario(tmp_path / "mine.toml")
    bust = load_scenario("training_bust")
    assert sc.demand.volatility == 0.31 and sc.training.opex == 0.3
    assert sc.training_cost == bust.training_cost  # the rest comes from the built-in


def test_extends_cycles_through_files_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "./a.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "a.toml")
    assert str(err.value) == (
        f'{tmp_path / "b.toml"}: extends = "./a.toml" makes a cycle (a -> b.toml -> ./a.toml)'
    )


def test_extends_of_a_missing_file_names_where_it_looked(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "gone.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "a.toml")
    assert str(err.value) == (
        f'{tmp_path / "a.toml"}: extends = "gone.toml": no such scenario file (looked for '
        f"{tmp_path / 'gone.toml'})"
    )
