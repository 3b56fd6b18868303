"""units.py: one table per quantity, read exactly; library errors name parameters, the CLI its flags.

Expected values are hand arithmetic written here (10^9, 2^30, 1024 x 128), never llmarch's own output.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from typer.testing import CliRunner

from llmarch import units
from llmarch.cli import app
from llmarch.errors import OptionError, ParameterError
from llmarch.units import (
    BYTES,
    COUNT,
    TOKENS,
    UnitError,
    alike,
    format_as,
    format_bytes,
    format_count,
    format_flops,
    format_tokens,
    parse,
    parse_tokens,
)

runner = CliRunner()


@pytest.mark.parametrize(
    "text, table, value",
    [
        ("8B", COUNT, 8 * 10**9),
        ("20G", COUNT, 20 * 10**9),  # FLOPs say G, parameters say B: the same 10^9
        ("1.5K", COUNT, 1500),
        ("2M", COUNT, 2 * 10**6),
        ("1T", COUNT, 10**12),
        ("3P", COUNT, 3 * 10**15),
        ("671b", COUNT, 671 * 10**9),  # any case
        ("1,000B", COUNT, 10**12),  # thousands commas, as publishers write
        (".5B", COUNT, 5 * 10**8),
        ("32.856305664B", COUNT, 32_856_305_664),  # through a float: 32,856,305,663.999996
        ("123456789.123456789123456789B", COUNT, Decimal("123456789123456789.123456789")),
        ("4GiB", BYTES, 4 * 2**30),
        ("68.6 KiB", BYTES, Decimal("68.6") * 1024),
        ("4.35GiB", BYTES, Decimal(435 * 2**30) / 100),
        ("1TiB", BYTES, 2**40),
        ("3MB", BYTES, 3 * 10**6),  # decimal bytes stay decimal
        ("2GB", BYTES, 2 * 10**9),
        ("7 B", BYTES, 7),  # in the bytes table B is a byte, not a billion
        ("128k", TOKENS, 128 * 1024),
        ("1m", TOKENS, 1024 * 1024),
        ("4K", TOKENS, 4096),
    ],
)
def test_each_table_reads_exactly(text, table, value):
    quantity = parse(text, table, "x")
    assert isinstance(quantity.value, Decimal) and quantity.value == value


def test_last_digit_is_the_written_precision():
    assert parse("68.6 KiB", BYTES, "x").last_digit == Decimal("102.4")  # 0.1 x 1024
    assert parse("116.83B", COUNT, "x").last_digit == 10**7
    assert parse("671B", COUNT, "x").last_digit == 10**9


@pytest.mark.parametrize(
    "text, table",
    [("2X", COUNT), ("1e9", COUNT), ("-5B", COUNT), ("nanB", COUNT), ("", COUNT), ("B", COUNT), ("4Gb x", BYTES)],
)
def test_not_a_quantity(text, table):
    with pytest.raises(UnitError, match="^budget `"):
        parse(text, table, "budget")


def test_unit_required_and_digit_limit():
    with pytest.raises(UnitError, match="is not a size in bytes"):
        parse("4096", BYTES, "x", unit_required=True)
    with pytest.raises(UnitError, match="41 digits"):
        parse("1" * 41 + "B", COUNT, "x")


def test_tokens():
    assert parse_tokens("128k") == 131072
    assert parse_tokens(" 1M ") == 1048576
    assert parse_tokens(4096) == 4096
    assert parse_tokens(str(1 << 34)) == 1 << 34
    for bad in ("12q", "-1", "0", "1.5k", "1,024", "", "0k", str((1 << 34) + 1), "9" * 5000):
        with pytest.raises(OptionError):
            parse_tokens(bad)
    with pytest.raises(UnitError, match="^context `9{10}"):
        parse_tokens("9" * 5000)


def test_formatting():
    assert format_count(235_093_634_560) == "235.1B"
    assert format_count(1_043_000_000_000) == "1.043T"
    assert format_count(596_049_920) == "596.0M"
    assert format_count(999) == "999"
    assert format_bytes(10 * 2**30 + 2**29) == "10.50 GiB"  # 4 significant digits
    assert format_bytes(1023) == "1,023 B"
    assert format_count(None) == format_bytes(None) == format_flops(None) == "—"


def test_four_significant_digits_and_rounding_up_to_the_next_unit():
    assert format_count(8_190_735_360) == "8.191B"  # Qwen3 8B's total: 8.2B hid what a budget of 8B needs
    assert format_count(999_960_000) == "1.000B"  # 999.96M rounds to 1,000M: said in the next unit
    assert format_count(1_234) == "1.234K"
    assert format_flops(30_000_000) == "30.00 M"
    assert format_flops(12_370_000_000_000) == "12.37 T"
    assert format_bytes(147_456) == "144.0 KiB"  # 147,456 / 1,024
    assert format_count(0) == "0"


def test_numbers_that_compare_share_one_unit():
    # 437.9 GiB beside 1.2 TiB read as two units: both in TiB, 470,184,984,576 / 2^40 = 0.42764...
    assert alike([470_184_984_576, 1_319_413_953_331, None], format_bytes) == ["0.4276 TiB", "1.200 TiB", "—"]
    # not 0.008191T: the smallest must read 0.1 or more, so B
    assert alike([8_190_735_360, 1_026_000_000_000], format_count) == ["8.191B", "1,026B"]
    assert alike([25_170_000, 212_900_000], format_flops) == ["25.17 M", "212.9 M"]
    assert alike([622_300_000, 1_245_000_000], format_flops) == ["0.6223 G", "1.245 G"]
    assert alike([0, 0], format_count) == ["0", "0"]


def test_a_number_in_the_unit_the_user_wrote():
    assert format_as(8_190_735_360, "8B", COUNT) == "8.191B"
    assert format_as(19_327_352_832, "4GiB", BYTES) == "18.00 GiB"  # 18 x 2^30
    assert format_as(19_327_352_832, "20gb", BYTES) == "19,327,352,832"  # gb: bits, no byte unit
    assert format_as(19_327_352_832, "20GB", BYTES) == "19.33 GB"  # decimal, as written
    assert format_as(16_340_000_000, "10G", COUNT) == "16.34G"
    assert format_as(7_568_405_504, "9000000000", COUNT) == "7,568,405,504"  # no unit written: exact
    assert format_tokens(131_072, "128k") == "128k (131,072)"  # as written, and exact
    assert format_tokens(131_072, "131072") == "131,072"
    assert format_tokens(131_072, "64k") == "131,072"  # not what was written: never a wrong echo


def test_library_errors_name_parameters_the_cli_names_flags():
    with pytest.raises(ParameterError) as info:
        parse_tokens("abc", "context")
    assert str(info.value).startswith("context `abc` is not a token count")
    assert info.value.worded({"context": "--ctx"}).startswith("--ctx `abc` is not a token count")
    # user text is never read as a parameter's name
    err = ParameterError("{tp} `{text}` bad", text="{tp}")
    assert str(err) == "tp `{tp}` bad" and err.worded({"tp": "--tp"}) == "--tp `{tp}` bad"


@pytest.mark.parametrize(
    "args, flag",
    [
        (["kvcache", "gpt2", "--ctx", "12q"], "error: --ctx `12q` is not a token count"),
        (["kvcache", "gpt2", "--sweep", "1k,zz"], "error: --sweep `zz` is not a token count"),
        (["kvcache", "gpt2", "--kv-dtype", "fp7"], "error: unknown --kv-dtype `fp7`"),
        (["kvcache", "gpt2", "--baseline", "nope"], "error: unknown --baseline `nope`"),
        (["flops", "gpt2", "--seq", "0"], "error: --seq `0` must be a positive number of tokens"),
        (["report", "gpt2", "--pairs", "gpt2"], "error: --pairs item `gpt2` is not `a:b`"),
        (["serve", "gpt2", "--gpus", "2", "--tp", "3"], "error: --tp 3 x --ep 1 must equal --gpus 2"),
        (["serve", "gpt2", "--ep", "2", "--gpus", "2"], "error: --ep 2: gpt2 has no experts to split"),
        (["serve", "gpt2", "--weights", "fp3"], "error: unknown --weights `fp3`"),
        (["serve", "gpt2", "--gpu", "h1000"], "error: unknown --gpu `h1000`"),
    ],
)
def test_cli_errors_name_flags(args, flag):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and flag in result.output, result.output
    assert "Traceback" not in result.output


def test_every_worded_flag_is_an_option_of_a_command():
    """The CLI's parameter-to-flag table names only flags the commands have (a renamed option shows here)."""
    import typer.main

    from llmarch.cli_shared import FLAGS

    commands = typer.main.get_command(app).commands.values()
    options = {opt for command in commands for param in command.params for opt in getattr(param, "opts", [])}
    assert set(FLAGS.values()) <= options, set(FLAGS.values()) - options


def test_cli_lines_fit_120_characters_and_cli_py_stays_under_600_lines():
    """The commands stay thin (issue 17): analyses, renderers and the shared plumbing live elsewhere."""
    from pathlib import Path

    import llmarch.cli
    import llmarch.cli_shared

    for module in (llmarch.cli, llmarch.cli_shared):
        lines = Path(module.__file__).read_text().splitlines()
        long = [i for i, line in enumerate(lines, 1) if len(line) > 120]
        assert not long, f"{module.__name__} lines over 120 characters: {long}"
    assert len(Path(llmarch.cli.__file__).read_text().splitlines()) < 600


def test_format_flops():
    assert format_flops(12_345_678_901) == "12.35 G"
    assert format_flops(1_204_000_000_000) == "1.204 T"
    assert format_flops(None) == "—"


@pytest.mark.parametrize("text", ["1,5B", "1,,0B", "5,B", "1,0000B", ",100B"])
def test_a_comma_is_only_a_thousands_separator(text):
    """A decimal comma ("1,5B") was once read as 15B: a budget ten times too high passed silently."""
    with pytest.raises(units.UnitError):
        units.parse(text, units.COUNT, "budget")
    result = CliRunner().invoke(app, ["check", "qwen3-8b", "--max-total", text])
    assert result.exit_code == 2, result.output


def test_thousands_separators_read_exactly():
    assert units.parse("1,000B", units.COUNT, "x").value == 1000 * 10**9
    assert units.parse("12,345,678", units.COUNT, "x").value == 12_345_678


@pytest.mark.parametrize("text", ["4Gb", "4gib", "68.6 kib", "1mb"])
def test_a_lowercase_b_is_bits_never_bytes(text):
    with pytest.raises(units.UnitError):
        units.parse(text, units.BYTES, "size")


def test_a_measure_beside_its_limit_never_reads_as_the_limit_or_past_it():
    """Review of issue 24 item 7: `check` prints the measure in the limit's unit; at 4 significant digits
    Qwen3 8B's active 7,568,405,504 read 7.568B beside a limit of 7.5683B that it exceeds (FAIL), and
    8,190,735,360 read 8.191B beside 8.1907B.  The measure keeps at least the limit's decimals, and more while
    it rounds onto the limit: 7,568,405,504 / 10^9 = 7.568405504, so 7.5684B; against 7.5684B (which it also
    exceeds) 7.56841B.  Limits written with fewer decimals keep the 4-digit reading unless it lands on them."""
    assert format_as(7_568_405_504, "7.5683B", COUNT) == "7.5684B"
    assert format_as(7_568_405_504, "7.5684B", COUNT) == "7.56841B"
    assert format_as(8_190_735_360, "8.1907B", COUNT) == "8.19074B"  # 8.190735360 at 4 decimals is the limit
    assert format_as(8_190_735_360, "8B", COUNT) == "8.191B"
    assert format_as(8_190_735_360, "8,190,735,360", COUNT) == "8,190,735,360"
    # 18 GiB + 1 byte against a limit of exactly 18 GiB written with two decimals: 18.00 would read as equal
    assert format_as(18 * 2**30 + 1, "18.00GiB", BYTES) == "18.000000001 GiB"  # 18 + 1/2^30 = 18.00000000093
    assert format_as(7_999_999_999, "8B", COUNT) == "7.999999999B"  # under the limit: never 8.000B
    assert format_as(18 * 2**30, "18GiB", BYTES) == "18.00 GiB"  # equal to its limit: equal text is right


def test_check_prints_the_measure_past_its_limit_at_80_columns():
    """The same through `check`: Qwen3 8B's active 7,568,405,504 (hand sum in tests/test_whatif.py's notes:
    8,190,735,360 less the 622,329,856 token embedding) against 7.5683B fails and reads 7.5684B."""
    result = runner.invoke(
        app, ["--no-color", "-q", "check", "qwen3-8b", "--max-active", "7.5683B"], env={"COLUMNS": "80"}
    )
    row = next(line for line in result.stdout.splitlines() if "max_active" in line)
    assert row.split()[:4] == ["max_active", "7.5683B", "7.5684B", "FAIL:"]
