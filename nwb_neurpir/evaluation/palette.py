"""Colours of classes and animals in the embedding figures, the same in every figure whatever subset it shows.

Up to 8 names take Okabe & Ito's colour-blind-safe palette (2008; black and yellow, the weakest on a white
background, last); more take ``LARGE_PALETTE``: Okabe-Ito followed by the six colours of Paul Tol's colour-blind-safe
"muted" scheme that are not near one of them (14 colours; no 14 colours all stay apart under every colour-vision
deficiency, so prefer a grouping or ``max_classes`` of 8 for print; beyond 14 colours repeat, with a warning). Grey
is kept for the values folded into "other".

Which colour a name gets: the user's ``palette`` (a mapping, or a JSON file of one: ``load_palette``) first -- a name
it sets is never folded into the grey "other" of ``max_classes``; then, with a grouping, its position in the
grouping's own class order; otherwise a colour keyed by the name itself (a CRC-32 of it), moved to the next free
colour when an earlier name (alphabetically) holds it -- so a class keeps its colour in a figure of any subset
unless it collided there with a class the subset lacks.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Mapping, Sequence

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.input_files import parse_json

__all__ = ["LARGE_PALETTE", "OKABE_ITO", "OTHER_COLOUR", "TOL_MUTED", "class_colours", "check_palette",
           "load_palette", "read_palette"]

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000")
"""Okabe & Ito (2008), "Color Universal Design": orange, sky blue, bluish green, blue, vermillion, reddish purple,
yellow, black."""
TOL_MUTED = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499")
"""Paul Tol's "muted" qualitative scheme (https://personal.sron.nl/~pault/): rose, indigo, sand, green, cyan, wine,
teal, olive, purple."""
LARGE_PALETTE = OKABE_ITO + tuple(c for c in TOL_MUTED if c not in ("#DDCC77", "#88CCEE", "#44AA99"))
"""The palette of more than 8 names: Okabe-Ito, then Tol's muted without sand, cyan and teal (too near Okabe-Ito's
yellow, sky blue and bluish green)."""
OTHER_COLOUR = "#BBBBBB"
"""Values folded into "other": a light grey no colour of the palettes comes near."""


def check_palette(palette: Mapping[str, str] | None, source: str | Path | None = None) -> dict[str, str]:
    """``palette`` as a plain dict after checking that it maps names to colours matplotlib reads (a NeurPIRError
    naming ``source`` and the first bad entry otherwise)."""
    from matplotlib.colors import is_color_like

    if palette is None:
        return {}
    if not isinstance(palette, Mapping):
        raise NeurPIRError(f"a palette maps class or animal names to colours, not a {type(palette).__name__}", source)
    bad = [(name, colour) for name, colour in palette.items()
           if not isinstance(colour, str) or not is_color_like(colour)]
    if bad:
        raise NeurPIRError(f"palette entry {bad[0][0]!r}: {bad[0][1]!r} is not a colour (e.g. '#D55E00' or 'tab:red')",
                           source)
    return {str(name): colour for name, colour in palette.items()}


def read_palette(path: str | Path) -> dict[str, str]:
    """The palette of a JSON file holding one object, name -> colour."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NeurPIRError("palette file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NeurPIRError(f"cannot read the palette as JSON ({exc})", path) from None
    parsed = parse_json(text, "the palette", path)
    if not isinstance(parsed, dict):
        raise NeurPIRError('a palette file holds one JSON object, e.g. {"TH": "#0072B2", "VIS": "#D55E00"}', path)
    return check_palette(parsed, path)


def load_palette(palette: Mapping[str, str] | str | Path | None) -> dict[str, str]:
    """The palette ``palette`` gives: a mapping name -> colour (``check_palette``), or the path of a JSON file of one
    (``read_palette``); None gives none."""
    if isinstance(palette, (str, Path)):
        return read_palette(palette)
    return check_palette(palette)


def class_colours(names: Sequence[str], order: Sequence[str] = (),
                  palette: Mapping[str, str] | None = None) -> dict[str, str]:
    """Name -> colour for ``names`` (see the module): ``palette``'s colours, then ``order``'s positions, then colours
    keyed by name, each taken from the palette that fits ``order`` (or, without one, ``names``)."""
    chosen = {name: palette[name] for name in names if palette and name in palette}
    colours = OKABE_ITO if len(order or names) <= len(OKABE_ITO) else LARGE_PALETTE
    positions = {name: index for index, name in enumerate(order)}
    used = {colour.lower() for colour in chosen.values()}
    for name in sorted((n for n in names if n not in chosen), key=lambda n: (n not in positions, n)):
        start = positions.get(name, zlib.crc32(name.encode("utf-8")))
        free = [colours[(start + step) % len(colours)] for step in range(len(colours))]
        colour = next((c for c in free if c.lower() not in used), free[0])
        chosen[name] = colour
        used.add(colour.lower())
    return chosen
