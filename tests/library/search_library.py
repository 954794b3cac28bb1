"""A small real library for the search tests: every photo written through photocap.library.photos,
and the query-language table the keyword tests and the word-model (oracle) tests both check."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from photocap.library import photos
from photocap.library.search import keyword

# name: (path, auto captions, auto tags, taken_at)
PHOTOS = {
    "beach_dog": ("/pics/2019/2019-07-04 Beach trip/IMG_0001.JPG",
                  ["a dog running on the beach with a frisbee"], ["dog", "beach", "frisbee"],
                  "2019-07-04T10:00:00"),
    "park_woman": ("/pics/2020/2020-05-01 Park/DSC01234.jpg",
                   ["a woman sitting on a bench in a park"], ["woman", "bench", "park"],
                   "2020-05-01T09:30:00"),
    "just_dog": ("/pics/2021/Misc/P1.png", ["dog"], [], "2021-03-01T12:00:00"),
    "long_dog": ("/pics/2021/Misc/P2.png",
                 ["a man walking with his dog along a very long road next to an old stone wall"
                  " in the rain on a grey autumn afternoon"], [], "2021-03-02T12:00:00"),
    "hot_dog": ("/pics/2018/Food/IMG_0100.JPG", ["a hot dog on a white plate"],
                ["hot dog", "plate"], "2018-01-01T13:00:00"),
    "cat_sofa": ("/pics/Scans/cat.jpg", ["a white cat sleeping on a couch"], ["cat", "couch"], None),
    "surfer": ("/pics/2022/2022-08-15 Hawaii/IMG_0200.JPG", ["a man riding a surfboard on a wave"],
               ["man", "surfboard", "wave"], "2022-08-15T16:00:00"),
    "cafe": ("/pics/2017/Paris/IMG_0300.JPG", ["a woman drinking coffee in a café"],
             ["woman", "coffee"], "2017-06-01T08:00:00"),
    "skyline": ("/pics/2016/Trip/IMG_0400.JPG", ["a view of a city skyline at night"],
                ["new york", "city"], "2016-09-09T22:00:00"),
    "party": ("/pics/2015/Family/IMG_0500.JPG", ["a group of people standing around a table"],
              ["people", "table"], "2015-12-24T19:00:00"),
    "missing_dog": ("/pics/2014/Old/IMG_0600.JPG", ["a dog sleeping on a rug"], ["dog", "rug"],
                    "2014-01-01T10:00:00"),
    "pending": ("/pics/2023/Inbox/PXL_20230101_000001.jpg", None, None, "2023-01-01T00:00:01"),
    "failed": ("/pics/2023/Inbox/broken.jpg", None, None, "2023-01-02T00:00:00"),
}
LIVE = set(PHOTOS) - {"missing_dog"}


def file_info(path: str, taken: str | None) -> photos.FileInfo:
    """Facts of a photo that is never read: the search tests need its path and date only."""
    return photos.FileInfo(size=1000, mtime=1.0, hash=path, width=4, height=3, taken_at=taken)


@dataclass
class Lib:
    conn: sqlite3.Connection
    ids: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    short: set[int] = field(default_factory=set)


def found(lib, query, **kw) -> list[str]:
    return [lib.names[h.photo_id] for h in keyword.search(lib.conn, query, **kw)]


CASES = [
    ("dog", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("DOG", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("dog beach", {"beach_dog"}),
    ("dog AND beach", {"beach_dog"}),
    ("dog -frisbee", {"just_dog", "long_dog", "hot_dog"}),
    ("NOT frisbee dog", {"just_dog", "long_dog", "hot_dog"}),
    ('dog -"hot dog"', {"beach_dog", "just_dog", "long_dog"}),
    ('"hot dog"', {"hot_dog"}),
    ('"dog hot"', set()),
    ('"on the beach', {"beach_dog"}),                     # unclosed quote runs to the end
    ("cat OR surfboard", {"cat_sofa", "surfer"}),
    ("cat OR surfboard white", {"cat_sofa"}),              # (cat OR surfboard) AND white
    ("white cat OR surfboard", {"cat_sofa"}),              # white AND (cat OR surfboard)
    ("cat or surfboard", set()),                           # lower-case 'or' is a word
    ("surf*", {"surfer"}),
    ('"hot d"*', {"hot_dog"}),
    ("cafe", {"cafe"}),                                    # diacritics folded
    ("CAFÉ", {"cafe"}),
    ("grandma", {"party"}),                                # user caption and user tag
    ("new york", {"skyline"}),                             # tags column
    ("img_0001", {"beach_dog"}),                           # file name
    ("hawaii", {"surfer"}),                                # folder
    ("pxl", {"pending"}),                                  # pending photos are found by name
    ("tag:dog", {"beach_dog"}),
    ("tag:DOG", {"beach_dog"}),
    ('tag:"hot dog"', {"hot_dog"}),
    ('tag:"  Hot   Dog "', {"hot_dog"}),
    ("tag:hot", set()),                                    # exact tag, not a word of it
    ("tag:lunch", {"hot_dog"}),                            # user tag
    ("tag:dog tag:frisbee", {"beach_dog"}),
    ("-tag:dog dog", {"just_dog", "long_dog", "hot_dog"}),
    ("tag:dog -beach", set()),
    ("folder:beach", {"beach_dog"}),                       # words of the folder, any case
    ("folder:bea", set()),
    ("folder:bea*", {"beach_dog"}),
    ("folder:pics/2021", {"just_dog", "long_dog"}),
    ("-folder:2021 dog", {"beach_dog", "hot_dog"}),
    ("-folder:pics", set()),
    ("folder:trip -folder:beach", {"skyline"}),
    ("status:missing folder:old", {"missing_dog"}),
    ("status:missing folder:new", set()),
    ("status:missing -folder:old", set()),
    ('folder:"beach trip"', {"beach_dog"}),
    ("folder:2021 dog", {"just_dog", "long_dog"}),
    ("folder:inbox", {"pending", "failed"}),
    ("path:dsc0", {"park_woman"}),
    ("path:P1.PNG", {"just_dog"}),
    ("path:%", set()),                                     # LIKE wildcards are literal
    ("path:_", {"beach_dog", "hot_dog", "surfer", "cafe", "skyline", "party", "pending"}),
    ("after:2021-03-02", {"long_dog", "surfer", "pending", "failed"}),
    ("after:2019-07-04 dog", {"beach_dog", "just_dog", "long_dog"}),   # inclusive
    ("before:2019-07-04 dog", {"hot_dog"}),                            # exclusive
    ("after:2019 before:2020", {"beach_dog"}),
    ("after:2021-3 before:2021-03-02", {"just_dog"}),
    ("-after:2018 woman", {"cafe"}),                       # = before:2018
    ("after:2100", set()),
    ("after:party", set()),                                # not a date: the words 'after party'
    ("status:pending", {"pending"}),
    ("status:failed", {"failed"}),
    ("status:PENDING status:failed", {"pending", "failed"}),
    ("status:done dog", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("status:pending dog", set()),
    ("status:missing", {"missing_dog"}),
    ("status:missing dog", {"missing_dog"}),
    ("status:missing rug -cat", {"missing_dog"}),
    ("status:missing cat", set()),
    ("status:missing tag:rug", {"missing_dog"}),
    ("status:done -status:done", set()),
    ("status:bogus", set()),                               # searched as words: nothing
    ("rug", set()),                                        # missing photos are not found
    ("-dog", LIVE - {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("-dog -woman -man", LIVE - {"beach_dog", "just_dog", "long_dog", "hot_dog", "park_woman",
                                 "cafe", "surfer"}),
    ("", LIVE),
    ("   ", LIVE),
    ("-", LIVE),
    ("*", LIVE),
    ("AND", LIVE),
    ("tag:", LIVE),
    ("!!!", set()),
    ("😀", set()),
    ("😀 dog", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
]


def fill(conn: sqlite3.Connection) -> Lib:
    """PHOTOS, written into the library through photocap.library.photos."""
    ids = {}
    for name, (path, caps, tags, taken) in PHOTOS.items():
        ids[name] = photos.add(conn, path, file_info(path, taken), None)
        if caps:
            photos.set_auto_captions(conn, ids[name], caps, model="tiny", tags=tags)
    photos.set_user_caption(conn, ids["party"], "Grandma's 80th birthday")
    photos.add_user_tags(conn, ids["party"], ["Grandma"])
    photos.add_user_tags(conn, ids["hot_dog"], ["lunch"])
    photos.set_status(conn, ids["failed"], "failed", "cannot identify image file")
    photos.mark_missing(conn, [ids["missing_dog"]])
    return Lib(conn, ids, {v: k for k, v in ids.items()})
