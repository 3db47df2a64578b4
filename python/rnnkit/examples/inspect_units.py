"""Example 10 - inspecting hidden units: is there a quote-detecting cell?

Takes the character model of example 5 (``05_char_lm.npz`` in the output folder, when it is
there and carries its vocabulary) or trains a small one, runs it over standard-library source it
never trained on, and ranks the hidden units by how well their activation correlates with
features of the text: inside a string literal, inside brackets, the position in the line.
The best quote unit colours a passage, character by character, in a PNG and a standalone HTML
page (blue negative, red positive), the picture of Karpathy's "Visualizing and Understanding
Recurrent Networks".

Run: ``python examples/10_inspect_units.py`` (``--quick`` for the test-sized run).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from .. import inspection
from ..models import load_model
from ..saving import ModelFileError
from ..text import get_vocab, stdlib_corpus
from . import char_lm
from ._common import Stopwatch, figure_path, parse_and_run, print_paths, resolve_config

__all__ = ["DEFAULT", "SMALL", "Config", "get_char_model", "main", "run"]

FEATURES = ("in_quotes", "in_brackets", "position_in_line")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings: the char model to train when none is saved, and how much text to analyse."""

    char_model: char_lm.Config = char_lm.preset(
        "modern",
        hidden=128,
        max_chars=1_000_000,
        seconds=None,
        max_updates=1500,
        sample_every=1e9,
        eval_chars=20_000,
    )
    reuse_saved: bool = True  # load example 5's model from out_dir when present
    analysis_chars: int = 30_000  # text the correlations are measured on
    passage_lines: int = 30  # lines shown in the PNG / HTML
    top: int = 5  # units listed per feature


DEFAULT = Config()
SMALL = Config(
    char_model=dataclasses.replace(char_lm.SMALL, max_updates=600),
    reuse_saved=False,
    analysis_chars=8_000,
    passage_lines=20,
    top=3,
)


def get_char_model(cfg: Config, out_dir: str, verbose: int, seed: int) -> tuple[Any, str]:
    """``(model, where)``: example 5's saved model when allowed and usable, else a new one."""
    path = os.path.join(out_dir, char_lm.MODEL_FILE)
    if cfg.reuse_saved and os.path.exists(path):
        try:
            model = load_model(path)
            if get_vocab(model) is not None:
                return model, f"loaded from {path}"
        except ModelFileError:
            pass  # an unreadable file: train a fresh model below
    trained = char_lm.train_char_model(cfg.char_model, verbose=verbose, seed=seed)
    return trained["model"], f"trained here ({trained['budget'].updates} updates)"


def _unseen_text(cfg: Config, seed: int) -> str:
    """Source that follows the char models' training text in the same file order (example 5's
    default size, the largest): never trained on. Starts at a line start."""
    skip = max(cfg.char_model.max_chars, char_lm.DEFAULT.max_chars)
    text = stdlib_corpus(skip + cfg.analysis_chars + 1000, seed=seed)[skip:]
    return text[text.index("\n") + 1 :][: cfg.analysis_chars]


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Rank units; return ``ranking`` (feature -> ``[(unit, corr), ...]`` best first),
    ``model_source``, ``seconds``, ``figures`` (the quote unit's PNG) and ``pages`` (standalone
    HTML for the best quote and bracket units)."""
    cfg = resolve_config(DEFAULT, config)
    clock = Stopwatch()
    model, source = get_char_model(cfg, out_dir, verbose, seed)
    text = _unseen_text(cfg, seed)
    states = inspection.hidden_states(model, text)
    features = inspection.text_features(text)
    ranking = {
        name: inspection.rank_units(states, features[name], top=cfg.top) for name in FEATURES
    }
    passage = "\n".join(text.split("\n")[: cfg.passage_lines])
    figures, pages = {}, {}
    for name, label in (("in_quotes", "quotes"), ("in_brackets", "brackets")):
        unit, corr = ranking[name][0]
        title = f"unit {unit}: correlation {corr:+.2f} with {name.replace('_', ' ')}"
        values = states[: len(passage), unit]
        pages[label] = str(
            inspection.render_html(
                passage, values, figure_path(out_dir, f"10_inspect_{label}.html"), title
            )
        )
        if name == "in_quotes":
            figures[label] = str(
                inspection.render_png(
                    passage, values, figure_path(out_dir, "10_inspect_quotes.png"), title
                )
            )
    return {
        "ranking": ranking,
        "model_source": source,
        "hidden": states.shape[1],
        "analysis_chars": len(text),
        "seconds": clock.elapsed,
        "figures": figures,
        "pages": pages,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: rank the units, then print the best ones and where the pictures are."""
    _config, results = parse_and_run(argv, __doc__, DEFAULT, SMALL, run)
    print(
        f"Inspecting the {results['hidden']} hidden units of a character model "
        f"({results['model_source']}) over {results['analysis_chars']:,} unseen characters:"
    )
    for name, units in results["ranking"].items():
        listed = ", ".join(f"unit {u} ({c:+.2f})" for u, c in units)
        print(f"  {name:<17} {listed}")
    print(f"  in {results['seconds']:.1f} s")
    print_paths(results["figures"])
    print_paths(results["pages"], "page")
    return results


if __name__ == "__main__":
    main()
