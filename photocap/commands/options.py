"""Option groups shared by several subcommands (argparse parent parsers)."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from photocap import config


def common() -> argparse.ArgumentParser:
    """--db and --debug, accepted after the subcommand too (SUPPRESS keeps the global value)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                   help="library database (default: library.db in the user data folder; env PHOTOCAP_DB)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks and debug logging")
    return p


def models() -> argparse.ArgumentParser:
    """Model, device and caption options; unset ones keep the saved settings."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="NAME_OR_DIR", help="caption model: a preset (see `photocap models`) "
                   "or a folder made with save_pretrained")
    g.add_argument("--vqa-model", metavar="NAME_OR_DIR", help="question model (default: blip-vqa, or "
                   "the caption model when it can answer)")
    add_embed_model(g)
    g.add_argument("--device", choices=config.DEVICES)
    g.add_argument("--precision", choices=config.PRECISIONS)
    g.add_argument("--batch-size", type=checked("batch_size"), metavar="N", help=allowed("batch_size"))
    c = p.add_argument_group("caption options")
    c.add_argument("--prompt", type=checked("prompt"), metavar="TEXT",
                   help=f'conditional prefix, e.g. "a photography of" (at most {config.PROMPT_MAX_CHARS} '
                        "characters)")
    c.add_argument("--num-beams", type=checked("num_beams"), metavar="N",
                   help=f"beam search width ({allowed('num_beams')})")
    c.add_argument("--sample", dest="do_sample", action="store_true", default=None,
                   help="nucleus sampling instead of beam search")
    c.add_argument("--top-p", type=checked("top_p"), metavar="P", help=allowed("top_p"))
    c.add_argument("--temperature", type=checked("temperature"), metavar="T", help=allowed("temperature"))
    c.add_argument("--num-captions", type=checked("num_captions"), metavar="N",
                   help=f"caption candidates kept per photo for review: the best beams, or samples at "
                        f"--temperature with --sample ({allowed('num_captions')})")
    c.add_argument("--max-new-tokens", type=checked("max_new_tokens"), metavar="N",
                   help=f"longest caption in tokens ({allowed('max_new_tokens')}, and what the model allows)")
    c.add_argument("--min-new-tokens", type=checked("min_new_tokens"), metavar="N",
                   help=f"shortest caption in tokens ({allowed('min_new_tokens')})")
    c.add_argument("--repetition-penalty", type=checked("repetition_penalty"), metavar="X",
                   help=allowed("repetition_penalty"))
    return p


def embedding() -> argparse.ArgumentParser:
    """--embed-model alone, for commands that search by meaning but caption nothing (search, similar, ...)."""
    p = argparse.ArgumentParser(add_help=False)
    add_embed_model(p)
    return p


def add_embed_model(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    group.add_argument("--embed-model", metavar="NAME_OR_DIR",
                       help="search model, for finding photos by what they show: blip-itm-base (default), "
                            "blip-itm-large, siglip2-base (many languages), or a folder made with save_pretrained "
                            "(env PHOTOCAP_EMBED_MODEL)")


def checked(name: str) -> Callable[[str], Any]:
    """An argparse type for a setting: its value, or "argument --num-beams: must be ... not 20"."""
    def parse(text: str) -> Any:
        try:
            return config.parse_setting(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def allowed(name: str) -> str:
    """The range in a help text, from the one declaration in photocap.config."""
    return config.LIMITS[name].describe()


MODEL_FIELDS = ("model", "vqa_model", "embed_model", "device", "precision", "batch_size",
                *config.CAPTION_OPTIONS)


def settings_changes(args: argparse.Namespace) -> dict:
    """The settings the command line overrides (options not given are None and change nothing)."""
    return {name: getattr(args, name, None) for name in MODEL_FIELDS}
