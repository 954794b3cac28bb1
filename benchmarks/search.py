"""Search latency at 1M photos: photocap's search() against plain FTS5 and a LIKE scan.

Builds (or reuses, under --data) a library of --rows photos that looks exactly like what
photocap.library.photos writes (same tables, same FTS5 documents under the same rowids, built by
photocap.library.search.document), with BLIP-style captions over a Zipf-skewed vocabulary, tags taken
from the captions, dates over 15 years, year/event folders, camera file names and mostly-done
statuses; everything from a seeded RNG.

Then runs a fixed set of queries of every kind, top 50, after a warm-up, and reports p50/p95 for
  search   photocap.library.search.keyword.search(conn, q, limit=50)
  fts      plain `SELECT rowid, rank FROM photo_fts WHERE photo_fts MATCH ? ORDER BY rank LIMIT 50`
           for the same MATCH expression (queries that have one)
  like     `SELECT DISTINCT photo_id FROM captions WHERE text LIKE '%w%' [AND ...] LIMIT 50` for the
           same words (queries that have words; fewer repetitions: it is slow)
It checks that search() returns the exact bm25 order wherever the match set has at most
keyword.EXACT_LIMIT rows (mismatches are counted, and fail the run), and reports the overlap of the
approximate top 50 with the exact one for larger sets. The last line is one JSON object.

    python benchmarks/search.py                 # 1,000,000 rows (a few minutes to build, once)
    python benchmarks/search.py --rows 20000    # quick
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from photocap.library import db, photos  # noqa: E402
from photocap.library.search import document, keyword, query  # noqa: E402

DATA_VERSION = 5
ROOT = "/home/user/Pictures"

# ---- vocabulary (BLIP-like) ---------------------------------------------------------------------
# Each list is in rough order of frequency; picks follow a Zipf law over the list, so the first
# few words are in ~10% of photos and the long tail is rare.

SUBJECTS = [  # (caption words, tag)
    ("man", "man"), ("woman", "woman"), ("dog", "dog"), ("group of people", "people"),
    ("cat", "cat"), ("person", "person"), ("little girl", "girl"), ("young boy", "boy"),
    ("couple", "couple"), ("child", "child"), ("baby", "baby"), ("bird", "bird"),
    ("horse", "horse"), ("car", "car"), ("train", "train"), ("bus", "bus"), ("family", "family"),
    ("boat", "boat"), ("motorcycle", "motorcycle"), ("bicycle", "bicycle"), ("cow", "cow"),
    ("sheep", "sheep"), ("elephant", "elephant"), ("giraffe", "giraffe"), ("zebra", "zebra"),
    ("bear", "bear"), ("airplane", "airplane"), ("truck", "truck"), ("duck", "duck"),
    ("teddy bear", "teddy bear"), ("surfer", "surfer"), ("skateboarder", "skateboarder"),
    ("skier", "skier"), ("soccer player", "soccer player"), ("tennis player", "tennis player"),
    ("bride", "bride"), ("groom", "groom"), ("chef", "chef"), ("police officer", "police"),
    ("firefighter", "firefighter"), ("goat", "goat"), ("pig", "pig"), ("chicken", "chicken"),
    ("rabbit", "rabbit"), ("squirrel", "squirrel"), ("deer", "deer"), ("fox", "fox"),
    ("owl", "owl"), ("parrot", "parrot"), ("swan", "swan"), ("seagull", "seagull"),
    ("pigeon", "pigeon"), ("penguin", "penguin"), ("monkey", "monkey"), ("lion", "lion"),
    ("tiger", "tiger"), ("kangaroo", "kangaroo"), ("camel", "camel"), ("donkey", "donkey"),
    ("puppy", "puppy"), ("kitten", "kitten"), ("hamster", "hamster"), ("turtle", "turtle"),
    ("lizard", "lizard"), ("butterfly", "butterfly"), ("bee", "bee"), ("dragonfly", "dragonfly"),
    ("snail", "snail"), ("frog", "frog"), ("goldfish", "goldfish"), ("jellyfish", "jellyfish"),
    ("dolphin", "dolphin"), ("whale", "whale"), ("seal", "seal"), ("otter", "otter"),
    ("raccoon", "raccoon"), ("hedgehog", "hedgehog"), ("alpaca", "alpaca"), ("llama", "llama"),
    ("peacock", "peacock"), ("flamingo", "flamingo"), ("pelican", "pelican"), ("heron", "heron"),
    ("toddler", "toddler"), ("grandmother", "grandmother"), ("grandfather", "grandfather"),
    ("teenager", "teenager"), ("musician", "musician"), ("guitarist", "guitarist"),
    ("drummer", "drummer"), ("dancer", "dancer"), ("clown", "clown"), ("magician", "magician"),
    ("astronaut", "astronaut"), ("knight", "knight"), ("statue", "statue"), ("robot", "robot"),
    ("snowman", "snowman"), ("scarecrow", "scarecrow"), ("tractor", "tractor"), ("tram", "tram"),
    ("helicopter", "helicopter"), ("hot air balloon", "balloon"), ("kayak", "kayak"),
    ("canoe", "canoe"), ("sailboat", "sailboat"), ("yacht", "yacht"), ("ferry", "ferry"),
    ("submarine", "submarine"), ("rickshaw", "rickshaw"), ("gondola", "gondola"),
    ("accordion player", "accordion"), ("bagpiper", "bagpipes"), ("falconer", "falcon"),
    ("beekeeper", "beekeeper"), ("blacksmith", "blacksmith"), ("juggler", "juggler"),
]
ADJECTIVES = ["white", "black", "young", "brown", "small", "large", "red", "blue", "little",
              "old", "green", "yellow", "gray", "happy", "wooden", "pink", "orange", "purple",
              "smiling", "wet", "fluffy", "tall", "colorful", "shiny", "rusty", "striped",
              "spotted", "sleepy", "muddy", "golden", "silver", "tiny", "giant", "vintage",
              "antique", "dusty", "frozen", "glowing", "curly", "bearded"]
VERBS = ["standing", "sitting", "walking", "running", "laying", "riding", "playing", "holding",
         "looking", "eating", "posing", "jumping", "swimming", "flying", "smiling", "reading",
         "dancing", "climbing", "sleeping", "drinking", "cooking", "waving", "hugging", "kneeling",
         "skating", "surfing", "skiing", "fishing", "painting", "singing", "juggling", "rowing"]
PREPS = ["on", "in", "next to", "in front of", "near", "at", "under", "by", "behind", "on top of"]
PLACES = [  # (caption words, tag or None)
    ("table", "table"), ("street", "street"), ("beach", "beach"), ("field", "field"),
    ("grass", "grass"), ("park", "park"), ("room", "room"), ("kitchen", "kitchen"),
    ("bench", "bench"), ("snow", "snow"), ("water", "water"), ("road", "road"),
    ("sidewalk", "sidewalk"), ("couch", "couch"), ("bed", "bed"), ("window", "window"),
    ("building", "building"), ("city", "city"), ("forest", "forest"), ("mountain", "mountain"),
    ("lake", "lake"), ("river", "river"), ("garden", "garden"), ("fence", "fence"),
    ("tree", "tree"), ("wall", "wall"), ("floor", "floor"), ("stage", "stage"),
    ("restaurant", "restaurant"), ("living room", "living room"), ("bathroom", "bathroom"),
    ("airport", "airport"), ("train station", "station"), ("parking lot", "parking lot"),
    ("playground", "playground"), ("pool", "pool"), ("boat dock", "dock"), ("bridge", "bridge"),
    ("desert", "desert"), ("cliff", "cliff"), ("waterfall", "waterfall"), ("harbor", "harbor"),
    ("market", "market"), ("church", "church"), ("castle", "castle"), ("museum", "museum"),
    ("stadium", "stadium"), ("farm", "farm"), ("barn", "barn"), ("vineyard", "vineyard"),
    ("lighthouse", "lighthouse"), ("glacier", "glacier"), ("volcano", "volcano"),
    ("canyon", "canyon"), ("meadow", "meadow"), ("swamp", "swamp"), ("jungle", "jungle"),
    ("rooftop", "rooftop"), ("balcony", "balcony"), ("porch", "porch"), ("attic", "attic"),
    ("cathedral", "cathedral"), ("temple", "temple"), ("pagoda", "pagoda"), ("mosque", "mosque"),
    ("aquarium", "aquarium"), ("zoo", "zoo"), ("carousel", "carousel"), ("greenhouse", "greenhouse"),
    ("orchard", "orchard"), ("pier", "pier"), ("boardwalk", "boardwalk"), ("igloo", "igloo"),
]
OBJECTS = ["frisbee", "ball", "umbrella", "cell phone", "kite", "surfboard", "skateboard",
           "tennis racket", "backpack", "handbag", "cake", "laptop", "book", "cup of coffee",
           "bottle", "hat", "guitar", "camera", "flower", "pizza", "sandwich", "banana", "balloon",
           "bouquet", "leash", "suitcase", "toy", "stick", "bag", "sign", "flag", "lantern",
           "map", "basket", "scarf", "trophy", "violin", "trumpet", "microphone", "candle",
           "pumpkin", "wreath", "snowball", "sparkler", "fishing rod", "paddle", "shovel",
           "ukulele", "harmonica", "telescope", "compass", "hourglass", "typewriter", "abacus",
           "accordion", "banjo", "didgeridoo", "xylophone", "kaleidoscope", "boomerang",
           "pinwheel", "yoyo", "harpsichord", "sextant", "periscope"]
FOODS = ["plate of food", "pizza", "sandwich", "bowl of soup", "salad", "cake", "plate of pasta",
         "hot dog", "bowl of fruit", "donut", "burger", "plate of sushi", "bowl of ramen",
         "birthday cake", "cup of tea", "glass of wine", "croissant", "pancakes", "waffles",
         "ice cream", "taco", "burrito", "paella", "dumplings", "lasagna", "quiche", "baklava"]
SURFACES = ["table", "wooden table", "plate", "counter", "tray", "cutting board", "desk",
            "picnic table", "kitchen counter", "white plate"]
VIEWS = ["view", "black and white photo", "aerial view", "close up", "painting", "blurry photo",
         "picture", "sunset view", "night view", "panorama"]
SCENES = [("city", "city"), ("mountain range", "mountain"), ("beach", "beach"),
          ("building", "building"), ("street", "street"), ("lake", "lake"), ("forest", "forest"),
          ("bridge", "bridge"), ("harbor", "harbor"), ("skyline", "skyline"),
          ("church", "church"), ("castle", "castle"), ("field of flowers", "flowers"),
          ("snowy landscape", "snow"), ("waterfall", "waterfall"), ("desert", "desert"),
          ("lighthouse", "lighthouse"), ("volcano", "volcano"), ("glacier", "glacier"),
          ("fjord", "fjord"), ("aurora", "aurora"), ("canyon", "canyon")]
EVENTS = ["Beach trip", "Birthday", "Christmas", "Wedding", "Hiking", "Zoo", "Garden",
          "Holiday", "Paris", "Rome", "Camping", "Graduation", "Ski trip", "Road trip", "BBQ",
          "Easter", "Halloween", "New Year", "Concert", "Museum", "Lake house", "Picnic",
          "Soccer", "Farm visit", "Barcelona", "Kyoto", "Iceland", "Safari", "Lisbon", "Reunion"]
NAMES = ["alice", "bob", "grandma", "grandpa", "charlie", "emma", "noah", "olivia", "liam"]
USER_CAPTIONS = ["{n}'s birthday party", "our trip to {e}", "{n} at the lake", "best day ever",
                 "{n} and {m} at {e}", "first snow of the year", "family dinner"]


def zipf(rng: random.Random, items: list, s: float = 1.1):
    """A pick from `items` with weight 1/(rank+1)^s (cumulative weights cached per list)."""
    key = (id(items), s)
    cum = _CUM.get(key)
    if cum is None:
        total, cum = 0.0, []
        for r in range(len(items)):
            total += 1.0 / (r + 1) ** s
            cum.append(total)
        _CUM[key] = cum
    return items[_bisect(cum, rng.random() * cum[-1])]


_CUM: dict = {}


def _bisect(a: list[float], x: float) -> int:
    lo, hi = 0, len(a) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(rng: random.Random) -> tuple[str, set[str]]:
    """One BLIP-style caption and the tags it gives."""
    tags: set[str] = set()
    kind = rng.random()
    if kind < 0.55:
        subj, tag = zipf(rng, SUBJECTS, 1.05)
        tags.add(tag)
        if rng.random() < 0.45:
            adj = zipf(rng, ADJECTIVES, 1.0)
            subj = f"{adj} {subj}"
        place, ptag = zipf(rng, PLACES, 1.0)
        tags.add(ptag)
        text = (f"{article(subj)} {subj} {zipf(rng, VERBS, 1.0)} {zipf(rng, PREPS, 1.2)} "
                f"{'the' if rng.random() < 0.5 else article(place)} {place}")
        if rng.random() < 0.3:
            obj = zipf(rng, OBJECTS, 1.0)
            tags.add(obj)
            text += f" with {article(obj)} {obj}"
    elif kind < 0.70:
        subj, tag = zipf(rng, SUBJECTS, 1.05)
        other, otag = zipf(rng, SUBJECTS, 1.05)
        place, ptag = zipf(rng, PLACES, 1.0)
        tags.update((tag, otag, ptag))
        text = (f"{article(subj)} {subj} and {article(other)} {other} {zipf(rng, VERBS, 1.0)} "
                f"{zipf(rng, PREPS, 1.2)} the {place}")
    elif kind < 0.85:
        food = zipf(rng, FOODS, 1.0)
        surface = zipf(rng, SURFACES, 0.9)
        tags.update((food.split(" of ")[-1], surface.split()[-1]))
        text = f"{article(food)} {food} on {article(surface)} {surface}"
    elif kind < 0.93:
        obj = zipf(rng, OBJECTS, 1.0)
        place, ptag = zipf(rng, PLACES, 1.0)
        tags.update((obj, ptag))
        adj = zipf(rng, ADJECTIVES, 1.0)
        text = f"a close up of {article(adj)} {adj} {obj} on the {place}"
    else:
        view = zipf(rng, VIEWS, 1.0)
        scene, stag = zipf(rng, SCENES, 1.0)
        tags.add(stag)
        text = f"{article(view)} {view} of {article(scene)} {scene}"
    return text, tags


def photo_name(rng: random.Random, style: int, n: int, when: tuple[int, int, int]) -> str:
    y, m, d = when
    if style == 0:
        return f"IMG_{n % 10000:04d}.JPG"
    if style == 1:
        return f"DSC{n % 100000:05d}.jpg"
    if style == 2:
        return f"PXL_{y:04d}{m:02d}{d:02d}_{n:06d}.jpg"
    if style == 3:
        return f"IMG_{y:04d}{m:02d}{d:02d}_{n:06d}.jpg"
    return f"Photo {n}.jpeg"


# ---- building -----------------------------------------------------------------------------------

def generate(rows: int, seed: int = 2024):
    """Yield (photo row, captions [(text, source)], tags [(tag, source)]) for ids 1..rows."""
    rng = random.Random(seed)
    photo_id = 0
    t_added = 1_700_000_000.0
    used: dict[str, int] = {}
    while photo_id < rows:
        year = rng.randint(2010, 2024)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        undated = rng.random() < 0.03
        event = zipf(rng, EVENTS, 0.8)
        if undated:
            folder = f"{ROOT}/Scans/{event}"
        else:
            folder = f"{ROOT}/{year}/{year}-{month:02d}-{day:02d} {event}"
        used[folder] = used.get(folder, 0) + 1
        if used[folder] > 1:
            folder += f" {used[folder]}"
        size = min(int(rng.expovariate(1 / 120)) + 5, rows - photo_id)
        style = rng.choice((0, 0, 0, 1, 1, 2, 3, 4))
        start = rng.randint(1, 9000)
        seconds = rng.randint(7 * 3600, 12 * 3600)
        for k in range(size):
            photo_id += 1
            seconds += rng.randint(5, 300)
            taken = None if undated else (
                f"{year:04d}-{month:02d}-{day:02d}T{min(seconds // 3600, 23):02d}:"
                f"{seconds // 60 % 60:02d}:{seconds % 60:02d}")
            name = photo_name(rng, style, start + k, (year, month, day))
            r = rng.random()
            status = ("done" if r < 0.94 else "pending" if r < 0.97 else
                      "failed" if r < 0.98 else "missing")
            caps: list[tuple[str, str]] = []
            tags: list[tuple[str, str]] = []
            if status in ("done", "missing"):
                all_tags: set[str] = set()
                for _ in range(1 if rng.random() < 0.92 else rng.randint(2, 3)):
                    text, t = caption(rng)
                    caps.append((text, "auto"))
                    all_tags |= t
                tags = [(t, "auto") for t in sorted(all_tags)]
                if rng.random() < 0.01:
                    caps.insert(0, (rng.choice(USER_CAPTIONS).format(
                        n=rng.choice(NAMES).title(), m=rng.choice(NAMES).title(), e=event), "user"))
                if rng.random() < 0.01:
                    user = sorted({rng.choice(NAMES) for _ in range(rng.randint(1, 2))})
                    tags = [(t, "user") for t in user] + [(t, s) for t, s in tags if t not in user]
            t_added += 0.01
            row = (photo_id, f"{folder}/{name}", 1, folder, name, rng.randint(800_000, 6_000_000),
                   t_added, f"{rng.getrandbits(64):016x}{photo_id:08x}", 4032, 3024, taken,
                   "Pixel 7" if style == 2 else "Canon EOS 80D", status,
                   "cannot identify image file" if status == "failed" else None,
                   t_added, t_added)
            yield row, caps, tags


def display_order(caps: list[tuple[str, str]], tags: list[tuple[str, str]]
                  ) -> tuple[list[str], list[str]]:
    """Caption texts and tags in the order photos.captions and photos.tags list them: the user's
    first, then captions by position and tags by name (what photos.reindex puts in a document)."""
    return ([text for text, source in sorted(caps, key=lambda c: c[1] == "auto")],
            [tag for tag, source in sorted(tags, key=lambda t: (t[1] == "auto", t[0]))])


def build(path: Path, rows: int) -> float:
    t0 = time.perf_counter()
    if path.exists():
        path.unlink()
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    conn = db.connect(path)                  # the real schema and migrations
    conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -500000")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("BEGIN")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                           " AND sql IS NOT NULL AND tbl_name IN ('photos', 'captions', 'tags')"
                           ).fetchall()
    for name, _ in indexes:                  # rebuilt after the load, identical
        conn.execute(f"DROP INDEX {name}")
    conn.execute("INSERT INTO roots (id, path, added_at, online, last_scan) VALUES (1, ?, 0, 1, 0)",
                 (ROOT,))
    conn.execute("CREATE TEMP TABLE fts_src (rowid INTEGER PRIMARY KEY, caption, tags, name, folder,"
                 " taken, tagkeys)")
    photo_rows, caption_rows, tag_rows, fts_rows = [], [], [], []

    def flush() -> None:
        conn.executemany("INSERT INTO photos (id, path, root_id, folder, name, size, mtime, hash,"
                         " width, height, taken_at, camera, status, error, fts_rowid, added_at,"
                         " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", photo_rows)
        conn.executemany("INSERT INTO captions (photo_id, text, model, options, source, approved,"
                         " position, created_at) VALUES (?,?,?,?,?,?,?,?)", caption_rows)
        conn.executemany("INSERT INTO tags (photo_id, tag, source) VALUES (?,?,?)", tag_rows)
        conn.executemany("INSERT INTO fts_src (rowid, caption, tags, name, folder, taken, tagkeys)"
                         " VALUES (?,?,?,?,?,?,?)", fts_rows)
        for buf in (photo_rows, caption_rows, tag_rows, fts_rows):
            buf.clear()

    for row, caps, tags in generate(rows):
        photo_id, status = row[0], row[12]
        key = None
        if status != "missing":
            # The library's own document builder: the rows are exactly what photos.reindex writes.
            doc = document.search_document(photo_id, row[3], row[4], row[10], *display_order(caps, tags))
            key = doc[0]
            fts_rows.append(doc)
        photo_rows.append((*row[:14], key, *row[14:]))
        position = 0
        for text, source in caps:
            if source == "auto":
                caption_rows.append((photo_id, text, "Salesforce/blip-image-captioning-base",
                                     '{"num_beams": 3}', "auto", 0, position, row[15]))
                position += 1
            else:
                caption_rows.append((photo_id, text, None, None, "user", 1, 0, row[15]))
        tag_rows.extend((photo_id, t, s) for t, s in tags)
        if len(photo_rows) >= 20_000:
            flush()
    flush()
    for _, sql in indexes:
        conn.execute(sql)
    # FTS5 appends cheaply only in rowid order: load it sorted, in one statement.
    conn.execute("INSERT INTO photo_fts (rowid, caption, tags, name, folder, taken, tagkeys)"
                 " SELECT rowid, caption, tags, name, folder, taken, tagkeys FROM fts_src ORDER BY rowid")
    conn.execute("DROP TABLE fts_src")
    # What the library does after a large scan (db.optimize_search): one segment per word.
    conn.execute("INSERT INTO photo_fts(photo_fts) VALUES ('optimize')")
    conn.execute("INSERT INTO settings (key, value) VALUES ('bench_rows', ?)", (str(rows),))
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return time.perf_counter() - t0


def verify(conn: sqlite3.Connection, sample: int = 300) -> int:
    """Rebuild some documents with photos.reindex (rolled back): they must come out identical."""
    rng = random.Random(7)
    n = conn.execute("SELECT max(id) FROM photos").fetchone()[0]
    ids = sorted({rng.randint(1, n) for _ in range(sample)})

    def snapshot() -> list:
        out = []
        for i in ids:
            key = conn.execute("SELECT fts_rowid FROM photos WHERE id = ?", (i,)).fetchone()[0]
            doc = None if key is None else tuple(conn.execute(
                "SELECT rowid, caption, tags, name, folder, taken, tagkeys FROM photo_fts WHERE rowid = ?",
                (key,)).fetchone())
            out.append((i, key, doc))
        return out

    before = snapshot()
    conn.execute("BEGIN IMMEDIATE")
    try:
        photos.reindex(conn, ids)
        after = snapshot()
    finally:
        conn.execute("ROLLBACK")
    bad = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    for b, a in bad[:3]:
        print("document differs from photos.reindex:", b, a, file=sys.stderr)
    return len(bad)


def open_library(data: Path, rows: int, rebuild: bool = False) -> tuple[sqlite3.Connection, float | None]:
    path = data / f"search-bench-v{DATA_VERSION}-{rows}.db"
    built = None
    ok = False
    if path.exists() and not rebuild:
        try:
            c = sqlite3.connect(path)
            ok = c.execute("SELECT value FROM settings WHERE key = 'bench_rows'").fetchone() == (str(rows),)
            c.close()
        except sqlite3.Error:
            ok = False
    if not ok:
        data.mkdir(parents=True, exist_ok=True)
        print(f"building a library of {rows:,} photos in {path} ...", file=sys.stderr, flush=True)
        built = build(path, rows)
        print(f"built in {built:.1f} s", file=sys.stderr, flush=True)
    return db.connect(path), built


# ---- queries ------------------------------------------------------------------------------------

QUERIES = [
    # common single words (~5-12% of photos)
    "man", "woman", "white", "table", "dog",
    # rarer and rare
    "kitchen", "giraffe", "kaleidoscope", "didgeridoo", "harpsichord",
    # two words (AND), phrases
    "dog beach", "white cat", "woman bench park", '"sitting on a bench"', '"white dog"',
    # OR, exclude, prefix
    "cat OR dog", "giraffe OR zebra", "dog -beach", 'man -"standing on"', "surf*", "kal*",
    # filters
    "tag:dog", "tag:frisbee dog", "folder:2019 dog", "folder:wedding", 'folder:"beach trip" woman',
    "path:DSC0 cat", "after:2020-01-01 dog", "before:2012-06-01 woman",
    "after:2018 before:2019 beach", "status:failed", "status:pending", "status:missing",
    "status:missing dog", "tag:beach dog -frisbee after:2015", "-dog tag:beach",
    # listing and hostile
    "", 'NEAR(dog', '"unbalanced quote', "-", "AND OR NOT", "*", "^dog", "col:foo man",
    "((dog)) cat:", "😀 dog \x00",
]


def like_sql(pq: query.ParsedQuery) -> tuple[str, list[str]] | None:
    """The LIKE-scan baseline for the query's words (None without positive words)."""
    if not pq.groups:
        return None
    clauses, params = [], []
    for group in pq.groups:
        clauses.append("(" + " OR ".join("text LIKE ?" for _ in group) + ")")
        params += [f"%{t.text}%" for t in group]
    for t in pq.excluded:
        clauses.append("text NOT LIKE ?")
        params.append(f"%{t.text}%")
    return ("SELECT DISTINCT photo_id FROM captions WHERE " + " AND ".join(clauses) + " LIMIT 50",
            params)


FTS_SQL = "SELECT rowid, rank FROM photo_fts WHERE photo_fts MATCH ? ORDER BY rank LIMIT 50"


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "photocap-bench")
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions per query")
    ap.add_argument("--like-reps", type=int, default=2)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()

    conn, built = open_library(args.data, args.rows, args.rebuild)
    bad_docs = verify(conn)
    if bad_docs:
        print(f"{bad_docs} documents differ from photos.reindex", file=sys.stderr)
    total = conn.execute("SELECT count(*) FROM photos").fetchone()[0]

    rows_out = []
    s_all, f_all, l_all = [], [], []
    mismatches, overlaps = 0, []
    for q in QUERIES:
        pq = query.parse(q)
        match = pq.match_expression()
        n = keyword.count(conn, q)
        keyword.search(conn, q)                                    # warm-up
        s_times = timed(lambda q=q: keyword.search(conn, q), args.reps)
        got = [h.photo_id for h in keyword.search(conn, q)]
        exact = [h.photo_id for h in keyword.search(conn, q, exact=True)]
        note = ""
        if match is None or "missing" in pq.effective_statuses:
            kind = "list"
            if got != exact:
                mismatches += 1
                note = "MISMATCH"
        elif n <= keyword.EXACT_LIMIT:
            kind = "exact"
            if got != exact:
                mismatches += 1
                note = "MISMATCH"
        else:
            kind = "approx"
            ov = len(set(got) & set(exact)) / max(1, len(exact))
            overlaps.append(ov)
            note = f"overlap {ov:.2f}"
        if kind == "exact" and not pq.has_filters and not pq.unsearchable:
            plain = [r[0] & db.FTS_ID_MASK for r in conn.execute(
                FTS_SQL.replace("ORDER BY rank", "ORDER BY rank, rowid"), (match,))]
            if plain != exact:
                mismatches += 1
                note = "MISMATCH vs plain FTS"
        f_times: list[float] = []
        if match is not None and not pq.unsearchable:
            conn.execute(FTS_SQL, (match,)).fetchall()
            f_times = timed(lambda m=match: conn.execute(FTS_SQL, (m,)).fetchall(), args.reps)
        l_times: list[float] = []
        like = like_sql(pq)
        if like is not None and not pq.unsearchable:
            l_times = timed(lambda lk=like: conn.execute(*lk).fetchall(), args.like_reps)
        s_all += s_times
        f_all += f_times
        l_all += l_times
        rows_out.append((q, kind, n, statistics.median(s_times),
                         statistics.median(f_times) if f_times else None,
                         statistics.median(l_times) if l_times else None, note))

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:8.2f}"

    print(f"library: {total:,} photos ({args.rows:,} rows asked)"
          + (f", built in {built:.0f} s" if built else ", reused")
          + f"; documents checked against photos.reindex: {'ok' if not bad_docs else bad_docs}")
    print(f"{'query':<38} {'path':<6} {'matches':>9} {'search':>8} {'fts':>8} {'like':>8}  note")
    for q, kind, n, s, f, lk, note in rows_out:
        shown = ascii(q)[1:-1] if not q.isprintable() else q
        print(f"{shown[:38]:<38} {kind:<6} {n:>9,} {ms(s):>8} {ms(f):>8} {ms(lk):>8}  {note}")
    p95, fts95, like95 = pct(s_all, 0.95), pct(f_all, 0.95), pct(l_all, 0.95)
    print(f"{'p50 ms':<38} {'':<6} {'':>9} {ms(pct(s_all, .5)):>8} {ms(pct(f_all, .5)):>8}"
          f" {ms(pct(l_all, .5)):>8}")
    print(f"{'p95 ms':<38} {'':<6} {'':>9} {ms(p95):>8} {ms(fts95):>8} {ms(like95):>8}")
    print(f"queries: {len(QUERIES)}, exact-order mismatches: {mismatches}, approximate top-50 overlap:"
          f" mean {statistics.mean(overlaps) if overlaps else 1:.3f}, min {min(overlaps, default=1):.3f}"
          f" over {len(overlaps)} large sets"
          f" (EXACT_LIMIT {keyword.EXACT_LIMIT}, CANDIDATES {keyword.CANDIDATES})")
    result = {
        "rows": total, "queries": len(QUERIES), "reps": args.reps,
        "p50_ms": round(pct(s_all, .5), 2), "p95_ms": round(p95, 2),
        "fts_p50_ms": round(pct(f_all, .5), 2), "fts_p95_ms": round(fts95, 2),
        "like_p50_ms": round(pct(l_all, .5), 2), "like_p95_ms": round(like95, 2),
        "ratio": round(fts95 / p95, 2), "like_ratio": round(like95 / p95, 2),
        "overlap_min": round(min(overlaps, default=1.0), 3),
        "overlap_mean": round(statistics.mean(overlaps) if overlaps else 1.0, 3),
        "exact_mismatches": mismatches, "bad_documents": bad_docs,
        "build_s": round(built, 1) if built else None,
    }
    print(json.dumps(result))
    return 1 if mismatches or bad_docs else 0


if __name__ == "__main__":
    sys.exit(main())
