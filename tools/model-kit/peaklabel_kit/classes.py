"""The 20 PASCAL VOC classes: names, aliases (so COCO names resolve), colours, ImageNet groups."""
from __future__ import annotations

from .ir import KitError

VOC = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
       "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
       "tvmonitor"]

ALIASES = {"aeroplane": ["airplane"], "motorbike": ["motorcycle"], "diningtable": ["dining table"],
           "pottedplant": ["potted plant"], "sofa": ["couch"], "tvmonitor": ["tv"]}

# The PASCAL VOC palette (colour of class i+1 in the official segmentation PNGs).
def _voc_color(i: int) -> str:
    r = g = b = 0
    c = i
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return f"#{r:02x}{g:02x}{b:02x}"


COLORS = {name: _voc_color(i + 1) for i, name in enumerate(VOC)}


def voc_index(name: str) -> int | None:
    """VOC class index of a class name or alias (case-insensitive), None when not a VOC class."""
    n = name.strip().lower()
    for i, v in enumerate(VOC):
        if n == v or n in ALIASES.get(v, []):
            return i
    return None


# ImageNet classes whose conv10 maps initialise each VOC class (mean of their weights).
IMAGENET_GROUPS = {
    "aeroplane": ["airliner", "warplane"],
    "bicycle": ["bicycle-built-for-two", "mountain bike"],
    "bird": [("range", 7, 24), ("range", 80, 100), ("range", 127, 146)],
    "boat": ["canoe", "catamaran", "container ship", "fireboat", "gondola", "lifeboat", "liner",
             "pirate", "schooner", "speedboat", "trimaran", "yawl"],
    "bottle": ["beer bottle", "pill bottle", "pop bottle", "water bottle", "wine bottle"],
    "bus": ["school bus", "trolleybus", "minibus"],
    "car": ["beach wagon", "cab", "convertible", "jeep", "limousine", "minivan", "Model T", "pickup",
            "racer", "sports car"],
    "cat": ["tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"],
    "chair": ["barber chair", "folding chair", "rocking chair", "throne"],
    "cow": ["ox", "water buffalo"],
    "diningtable": ["dining table"],
    "dog": [("range", 151, 268)],
    "horse": ["sorrel", "horse cart"],
    "motorbike": ["moped", "motor scooter"],
    # ImageNet has no person class: clothing and the few people classes stand in for it.
    "person": ["ballplayer", "groom", "scuba diver", "jersey", "suit", "jean", "sweatshirt",
               "cardigan", "lab coat"],
    "pottedplant": ["pot"],
    "sheep": ["ram", "bighorn"],
    "sofa": ["studio couch"],
    "train": ["bullet train", "electric locomotive", "freight car", "passenger car",
              "steam locomotive", "streetcar"],
    "tvmonitor": ["television", "monitor", "screen", "desktop computer"],
}


def imagenet_group_indices(labels: list[str]) -> dict[str, list[int]]:
    first = {l.split(", ")[0]: i for i, l in enumerate(labels)}
    out = {}
    for voc in VOC:
        idx = []
        for item in IMAGENET_GROUPS[voc]:
            if isinstance(item, tuple):
                idx += list(range(item[1], item[2] + 1))
            elif item in first:
                idx.append(first[item])
            else:
                raise KitError(f"ImageNet label '{item}' (for VOC class {voc}) is not in the label file")
        out[voc] = idx
    return out
