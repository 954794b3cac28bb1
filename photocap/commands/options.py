"""Option groups shared by several subcommands (argparse parent parsers)."""

from __future__ import annotations

import argparse

from photocap.console import positive_int


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
    g.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    g.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    g.add_argument("--batch-size", type=positive_int, metavar="N")
    c = p.add_argument_group("caption options")
    c.add_argument("--prompt", metavar="TEXT", help='conditional prefix, e.g. "a photography of"')
    c.add_argument("--num-beams", type=positive_int, metavar="N", help="beam search width")
    c.add_argument("--sample", dest="do_sample", action="store_true", default=None,
                   help="nucleus sampling instead of beam search")
    c.add_argument("--top-p", type=float, metavar="P")
    c.add_argument("--temperature", type=float, metavar="T")
    c.add_argument("--num-captions", type=positive_int, metavar="N", help="captions per photo")
    c.add_argument("--max-new-tokens", type=positive_int, metavar="N")
    c.add_argument("--min-new-tokens", type=int, metavar="N")
    c.add_argument("--repetition-penalty", type=float, metavar="X")
    return p


MODEL_FIELDS = ("model", "vqa_model", "device", "precision", "batch_size", "prompt", "num_beams",
                "do_sample", "top_p", "temperature", "num_captions", "max_new_tokens",
                "min_new_tokens", "repetition_penalty")


def settings_changes(args: argparse.Namespace) -> dict:
    """The settings the command line overrides (options not given are None and change nothing)."""
    return {name: getattr(args, name, None) for name in MODEL_FIELDS}
