"""Font families of the corpus: which files make each family, where to find them, and a per-process font cache.

Families are looked up by file name anywhere under a fonts folder (default ``/usr/share/fonts``), so the Debian
package layout does not matter. The Makefile installs them with ``fonts-dejavu-core fonts-dejavu-extra
fonts-liberation fonts-freefont-ttf fonts-urw-base35 fonts-crosextra-carlito fonts-crosextra-caladea``. Which family
may appear in which split is decided in :mod:`training.corpus.holdout`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from PIL import ImageFont

DEFAULT_FONT_DIR = Path("/usr/share/fonts")
FontStyle = Literal["regular", "bold", "italic"]


@dataclass(frozen=True, slots=True)
class FontFamily:
    """File names of one family's faces, and whether it is fixed-width (lab printers like those)."""

    regular: str
    bold: str
    italic: str
    mono: bool = False


#: Every family the generator knows, by name. Held-out assignment: :data:`training.corpus.holdout.ASSIGNMENT`.
FONT_FAMILIES: dict[str, FontFamily] = {
    "dejavu-sans": FontFamily("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf"),
    "dejavu-serif": FontFamily("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf"),
    "dejavu-sans-condensed": FontFamily(
        "DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf", "DejaVuSansCondensed-Oblique.ttf"
    ),
    "dejavu-sans-mono": FontFamily(
        "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", mono=True
    ),
    "liberation-sans": FontFamily("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSans-Italic.ttf"),
    "liberation-serif": FontFamily(
        "LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", "LiberationSerif-Italic.ttf"
    ),
    "liberation-mono": FontFamily(
        "LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf", "LiberationMono-Italic.ttf", mono=True
    ),
    "liberation-sans-narrow": FontFamily(
        "LiberationSansNarrow-Regular.ttf", "LiberationSansNarrow-Bold.ttf", "LiberationSansNarrow-Italic.ttf"
    ),
    "freefont-sans": FontFamily("FreeSans.ttf", "FreeSansBold.ttf", "FreeSansOblique.ttf"),
    "freefont-serif": FontFamily("FreeSerif.ttf", "FreeSerifBold.ttf", "FreeSerifItalic.ttf"),
    "freefont-mono": FontFamily("FreeMono.ttf", "FreeMonoBold.ttf", "FreeMonoOblique.ttf", mono=True),
    "nimbus-sans": FontFamily("NimbusSans-Regular.otf", "NimbusSans-Bold.otf", "NimbusSans-Italic.otf"),
    "nimbus-roman": FontFamily("NimbusRoman-Regular.otf", "NimbusRoman-Bold.otf", "NimbusRoman-Italic.otf"),
    "nimbus-mono": FontFamily(
        "NimbusMonoPS-Regular.otf", "NimbusMonoPS-Bold.otf", "NimbusMonoPS-Italic.otf", mono=True
    ),
    "urw-bookman": FontFamily("URWBookman-Light.otf", "URWBookman-Demi.otf", "URWBookman-LightItalic.otf"),
    "urw-gothic": FontFamily("URWGothic-Book.otf", "URWGothic-Demi.otf", "URWGothic-BookOblique.otf"),
    "c059": FontFamily("C059-Roman.otf", "C059-Bold.otf", "C059-Italic.otf"),
    "p052": FontFamily("P052-Roman.otf", "P052-Bold.otf", "P052-Italic.otf"),
    "carlito": FontFamily("Carlito-Regular.ttf", "Carlito-Bold.ttf", "Carlito-Italic.ttf"),
    "caladea": FontFamily("Caladea-Regular.ttf", "Caladea-Bold.ttf", "Caladea-Italic.ttf"),
}

#: Packages that provide the families (for the error message).
FONT_PACKAGES = (
    "fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-freefont-ttf fonts-urw-base35 "
    "fonts-crosextra-carlito fonts-crosextra-caladea"
)


class FontsMissingError(RuntimeError):
    """None of the font families a split may use is installed."""


@cache
def _index(font_dir: Path) -> dict[str, Path]:
    """File name → path of every TTF/OTF under the folder (first one found, in sorted order)."""
    found: dict[str, Path] = {}
    if font_dir.is_dir():
        for path in sorted(font_dir.rglob("*")):
            if path.suffix.lower() in (".ttf", ".otf"):
                found.setdefault(path.name, path)
    return found


def family_files(name: str, *, font_dir: Path = DEFAULT_FONT_DIR) -> dict[FontStyle, Path] | None:
    """The regular, bold and italic files of a family, or None when any of them is not installed.

    Args:
        name: A key of :data:`FONT_FAMILIES`.
        font_dir: Folder searched recursively.

    Returns:
        ``{"regular": path, "bold": path, "italic": path}`` or None.
    """
    family = FONT_FAMILIES[name]
    index = _index(font_dir)
    files = {style: index.get(getattr(family, style)) for style in ("regular", "bold", "italic")}
    if any(path is None for path in files.values()):
        return None
    return {style: path for style, path in files.items() if path is not None}  # type: ignore[misc]


def available_families(names: list[str] | tuple[str, ...], *, font_dir: Path = DEFAULT_FONT_DIR) -> list[str]:
    """The families among ``names`` whose files are all installed, in the given order.

    Raises:
        FontsMissingError: none of them is installed.
    """
    present = [name for name in names if family_files(name, font_dir=font_dir) is not None]
    if not present:
        raise FontsMissingError(
            f"none of the font families {', '.join(names)} is installed under {font_dir}; "
            f"install them with: apt-get install {FONT_PACKAGES}"
        )
    return present


@cache
def load_font(path: Path, size_px: int) -> ImageFont.FreeTypeFont:
    """A FreeType font at a pixel size, cached per process (fonts are not picklable, so never sent to workers)."""
    return ImageFont.truetype(str(path), size=max(4, size_px))


@dataclass(frozen=True, slots=True)
class FontBook:
    """The faces of one family at a page resolution; sizes are given in points.

    Attributes:
        family: The family name.
        files: Paths of its faces.
        dpi: Page resolution (points → pixels).
    """

    family: str
    files: dict[FontStyle, Path]
    dpi: int

    @property
    def mono(self) -> bool:
        """Whether the family is fixed-width."""
        return FONT_FAMILIES[self.family].mono

    def font(self, size_pt: float, style: FontStyle = "regular") -> ImageFont.FreeTypeFont:
        """The face at ``size_pt`` points."""
        return load_font(self.files[style], round(size_pt * self.dpi / 72.0))


def font_book(family: str, *, dpi: int, font_dir: Path = DEFAULT_FONT_DIR) -> FontBook:
    """A :class:`FontBook` for an installed family.

    Raises:
        FontsMissingError: the family is not installed.
    """
    files = family_files(family, font_dir=font_dir)
    if files is None:
        raise FontsMissingError(f"font family {family} is not installed under {font_dir}; install {FONT_PACKAGES}")
    return FontBook(family=family, files=files, dpi=dpi)
