"""The search document of a photo: the one declaration of what a photo is found by.

A photo's FTS5 row is its captions, tags, file name and folder (the columns that score), its date
as ``taken`` tokens and each tag as one ``tagkeys`` token (machine columns: weight 0 in the rank),
under a rowid whose high bits estimate its bm25 rank (``fts_key``): FTS5 walks matches in rowid
order, so keyword.py can rank a bounded set of candidates. ``photos.reindex`` writes these rows;
the search benchmark builds its library with ``search_document`` too.
"""

from __future__ import annotations

import re
from typing import Sequence

from photocap.library.db import FTS_ID_BITS
from photocap.library.search.query import STOPWORDS, WORD

# bm25 as FTS5 computes it (k1 = 1.2, b = 0.75) for a word found tf times in a document of D tokens:
# tf * (k1 + 1) / (tf + k1 * (1 - b + b * D / avgdl)), times the word's idf. _AVGDL is a fixed guess
# of the average document length (the real one changes with the library; only the order matters).
_K1, _B, _AVGDL = 1.2, 0.75, 24.0
_KEY_MAX = (1 << 30) - 1

_TAKEN = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
UNDATED_TOKEN = "ynone"

# A photo's FTS5 row, as inserted: (rowid, caption, tags, name, folder, taken, tagkeys).
SearchDocument = tuple[int, str, str, str, str, str, str]


def taken_tokens(taken_at: str | None) -> str:
    """The `taken` column of a search document: 'y2019 m201907 d20190704' ('ynone' without a full
    date, so that a date range can also be matched as NOT its complement)."""
    m = _TAKEN.match(taken_at or "")
    if not m:
        return UNDATED_TOKEN
    y, mo, d = m.groups()
    return f"y{y} m{y}{mo} d{y}{mo}{d}"


def tag_key(tag: str) -> str:
    """The `tagkeys` token of a (cleaned) tag: 't' and its UTF-8 in hex, one FTS5 token, injective."""
    return "t" + tag.encode("utf-8", "surrogatepass").hex()


def fts_stats(columns: Sequence[str]) -> tuple[int, int]:
    """(token count, highest count of one word that is no stop word or number) of a document.
    Words too common to be searched for (STOPWORDS) never set a document's key."""
    counts: dict[str, int] = {}
    total = 0
    for text in columns:
        for token in WORD.findall(text):
            total += 1
            token = token.casefold()
            if token not in STOPWORDS and not token.isdigit():
                counts[token] = counts.get(token, 0) + 1
    return total, max(counts.values(), default=1)


def fts_key(token_count: int, photo_id: int, *, top_tf: int = 1) -> int:
    """Rowid of a search document: an estimate of its bm25 rank first, so FTS5 yields the documents
    bm25 ranks first, first.

    The estimate is the document's best bm25 for one word (idf aside): that of its most repeated
    word (`top_tf` times: a word in several captions, in a caption and the tags, twice in a
    caption), over `token_count` tokens. See keyword.py for what this leaves approximate.
    """
    tf = max(1, top_tf)
    score = tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * token_count / _AVGDL))
    key = min(_KEY_MAX, max(0, int((1 - score / (_K1 + 1)) * _KEY_MAX)))
    return (key << FTS_ID_BITS) | photo_id


def search_document(photo_id: int, folder: str, name: str, taken_at: str | None,
                    caption_texts: Sequence[str], tag_list: Sequence[str]) -> SearchDocument:
    """The search document of a photo (the one declaration of it): captions and tags in the order
    `photos.captions` and `photos.tags` list them (the user's first), the date as `taken` tokens,
    one `tagkeys` token per tag, under its `fts_key` rowid."""
    columns = ("\n".join(caption_texts), " ; ".join(tag_list), name, folder, taken_tokens(taken_at),
               " ".join(tag_key(t) for t in tag_list))
    token_count, top_tf = fts_stats(columns)
    return (fts_key(token_count, photo_id, top_tf=top_tf), *columns)
