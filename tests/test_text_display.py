"""How generated text is shown to a reader: text.format_sample (newlines kept, long runs of
spaces and of blank lines shown by their length, an indented block) and text.source_prime (a
prime with context: a real method header and the indentation of its body)."""

from __future__ import annotations

from rnnkit.text import format_sample, source_prime


def test_a_sample_is_an_indented_block_with_its_newlines_and_indentation() -> None:
    sample = "    def close(self):\n        if self.f:\n            self.f.close()"
    assert format_sample(sample).split("\n") == [
        "    |     def close(self):",
        "    |         if self.f:",
        "    |             self.f.close()",
    ]
    assert format_sample("a\nb", gutter="> ") == "> a\n> b"


def test_a_long_run_of_spaces_is_shown_by_its_length() -> None:
    """The low-temperature failure mode: the favourite continuation is ~200 spaces, which a
    terminal shows as nothing at all."""
    assert format_sample("def " + " " * 200) == "    | def<201 spaces>"  # the whole run
    assert (
        format_sample("x =" + " " * 30 + "1\n" + " " * 40)
        == "    | x =<30 spaces>1\n    | <40 spaces>"
    )
    short = "if a:" + " " * 24 + "b"  # up to max_spaces: shown as it is
    assert format_sample(short) == "    | " + short
    assert format_sample("a" + " " * 10 + "b", max_spaces=8) == "    | a<10 spaces>b"


def test_runs_of_blank_lines_are_counted_and_trailing_spaces_dropped() -> None:
    assert format_sample("a\n\nb") == "    | a\n    |\n    | b"  # one blank line stays
    assert format_sample("a\n\n\nb") == "    | a\n    |\n    |\n    | b"
    five = "a\n" + "        \n" * 5 + "b"  # indented blank lines count as blank
    assert format_sample(five) == "    | a\n    | <5 blank lines>\n    | b"
    assert format_sample("a   \nb") == "    | a\n    | b"  # invisible anyway
    assert format_sample("a" + "\n" * 4) == "    | a\n    | <4 blank lines>"


def test_the_prime_is_a_real_method_header_and_the_body_indentation() -> None:
    source = (
        "import os\n\n\ndef helper(x):\n    return x\n\n\nclass File:\n"
        '    """A file."""\n\n    def close(self, force=False):\n        pass\n'
    )
    assert source_prime(source) == "    def close(self, force=False):\n        "
    assert source_prime("x = 1\n") == "def "  # no method header: the fallback
    assert source_prime("x = 1\n", fallback="# ") == "# "
    long_header = "    def f(self, " + "a, " * 30 + "b):\n"
    assert source_prime(long_header) == "def "  # too long a line to be a readable prime
