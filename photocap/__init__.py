"""photocap: caption, tag and search a photo library with BLIP / BLIP-2."""

__version__ = "0.1.0"
