"""The printed board of every shop (亮身份、亮职责、亮承诺): PNG, A5 at 300 dpi, and one PDF per run.

A board shows the shop's name, its badges (those held when printed; the
page behind the QR code is live), the promise of a party-member shop, the
grid with its leader's name and masked phone, and a QR code (segno) to the
shop's public page at ``LINPU_PUBLIC_URL``, keyed by the shop's random public
id.  Chinese needs a CJK font: ``LINPU_BOARD_FONT`` or the first Noto CJK font
installed; without one the run is refused with the fix, before anything is
written.

``--changed-since`` picks the shops whose board would read differently since
that day: opened since, or a badge awarded or revoked since.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import Engine, or_, select

from governance.db import transaction
from governance.errors import ConfigurationError, NotFoundError
from governance.grids import current_generation_id
from governance.models import Grid, Shop, ShopBadge
from governance.public_view import SHOP_PATH, PublicShop, public_address, public_shops
from governance.settings import Settings, get_settings
from governance.words import PUBLIC_WORDS

DPI = 300
#: A5 portrait, 148 x 210 mm, at 300 dots per inch.
A5_PX = (round(148 / 25.4 * DPI), round(210 / 25.4 * DPI))
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
RED = (183, 28, 28)
_PROBE = "邻铺长"


@dataclass
class BoardsReport:
    pngs: list[Path] = field(default_factory=list)
    pdf: Path | None = None

    def lines(self) -> list[str]:
        if not self.pngs:
            return ["no shop matched: nothing written"]
        return [f"{len(self.pngs)} boards (PNG, A5, {DPI} dpi) in {self.pngs[0].parent}", f"PDF: {self.pdf}"]


def board_font(settings: Settings | None = None) -> Path:
    """The font file for Chinese on the boards; ConfigurationError naming the fix when none is found."""
    settings = settings or get_settings()
    candidates = [settings.board_font] if settings.board_font else [Path(p) for p in FONT_CANDIDATES]
    for path in candidates:
        if path.is_file():
            try:
                font = ImageFont.truetype(str(path), 40)
            except OSError:
                continue
            if font.getmask(_PROBE).getbbox() is not None:
                return path
    where = f"LINPU_BOARD_FONT={settings.board_font}" if settings.board_font else "no Noto CJK font is installed"
    raise ConfigurationError(
        f"the boards need a font with Chinese characters and {where}; install one "
        "(Debian/Ubuntu: apt-get install fonts-noto-cjk) or point LINPU_BOARD_FONT at a CJK .ttf/.otf/.ttc file"
    )


def _word(key: str, lang: str = "zh") -> str:
    return PUBLIC_WORDS[key][lang]


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width and line:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def _qr(url: str, size: int) -> Image.Image:
    qr = segno.make(url, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=max(1, size // qr.symbol_size(border=4)[0]), border=4)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@dataclass(frozen=True)
class BoardTexts:
    """Every text a shop's board shows, in the order drawn (Chinese: the board hangs in a Chinese street)."""

    title: str
    name: str
    #: One ``【word】`` per badge held when printed.
    badges: tuple[str, ...]
    #: The promise of a party-member shop; None for the others.
    promise: str | None
    grid: str
    #: The grid leader's name and masked phone (public_view masks it).
    leader: str
    scan: str
    #: The shop's public page, also the QR code's text.
    url: str


def board_texts(shop: PublicShop, *, settings: Settings | None = None) -> BoardTexts:
    """What :func:`draw_board` writes on ``shop``'s board."""
    return BoardTexts(
        title=_word("public.board_title"),
        name=shop.name,
        badges=tuple(f"【{_word('badge.' + b)}】" for b in shop.badges),
        promise=_word("public.promise") if "party_member_operator" in shop.badges else None,
        grid=f"{_word('public.grid')}：{shop.grid_code}",
        leader=f"{_word('public.leader')}：{shop.leader_name} {shop.leader_phone}".strip(),
        scan=_word("public.scan"),
        url=public_address(SHOP_PATH.format(public_id=shop.public_id), settings=settings),
    )


def draw_board(shop: PublicShop, *, font_path: Path, settings: Settings | None = None) -> Image.Image:
    # Long: the board's layout top to bottom, kept in one place so its proportions read together.
    """One shop's board as an A5 portrait image at 300 dpi."""
    texts = board_texts(shop, settings=settings)
    width, height = A5_PX
    margin = 110
    image = Image.new("RGB", A5_PX, "white")
    draw = ImageDraw.Draw(image)
    font = lambda size: ImageFont.truetype(str(font_path), size)  # noqa: E731 - one face, many sizes
    draw.rectangle((0, 0, width, 260), fill=RED)
    draw.text((width // 2, 130), texts.title, font=font(96), fill="white", anchor="mm")
    y = 330
    for line in _wrap(draw, texts.name, font(120), width - 2 * margin)[:2]:
        draw.text((width // 2, y), line, font=font(120), fill="black", anchor="ma")
        y += 150
    if texts.badges:
        for line in _wrap(draw, "  ".join(texts.badges), font(64), width - 2 * margin):
            draw.text((width // 2, y + 10), line, font=font(64), fill=RED, anchor="ma")
            y += 84
    if texts.promise:
        for line in _wrap(draw, texts.promise, font(48), width - 2 * margin):
            draw.text((margin, y + 20), line, font=font(48), fill="black")
            y += 64
    y += 50
    draw.text((margin, y), texts.grid, font=font(56), fill="black")
    draw.text((margin, y + 80), texts.leader, font=font(56), fill="black")
    qr_size = min(1100, height - (y + 200) - 260)
    qr = _qr(texts.url, qr_size)
    image.paste(qr, ((width - qr.width) // 2, y + 190))
    caption_y = y + 190 + qr.height + 20
    draw.text((width // 2, caption_y), texts.scan, font=font(48), fill="black", anchor="ma")
    draw.text((width // 2, caption_y + 70), texts.url, font=font(32), fill=(90, 90, 90), anchor="ma")
    return image


def _shops(session, *, grid_code: str | None, changed_since: datetime | None) -> list[Shop]:
    query = select(Shop).join(Grid, Grid.id == Shop.grid_id).where(
        Shop.closed_at.is_(None), Grid.generation_id == current_generation_id(session))
    if grid_code is not None:
        if session.scalar(select(Grid.id).where(Grid.code == grid_code,
                                                Grid.generation_id == current_generation_id(session))) is None:
            raise NotFoundError(f"--grid {grid_code}: no current grid has this code")
        query = query.where(Grid.code == grid_code)
    if changed_since is not None:
        badge_changed = select(ShopBadge.shop_id).where(or_(ShopBadge.awarded_at >= changed_since,
                                                            ShopBadge.revoked_at >= changed_since))
        query = query.where(or_(Shop.opened_at >= changed_since, Shop.id.in_(badge_changed)))
    return list(session.scalars(query.order_by(Grid.code, Shop.name, Shop.id)).all())


def make_boards(engine: Engine, *, out_dir: Path, grid_code: str | None = None,
                changed_since: datetime | None = None, settings: Settings | None = None,
                progress: Callable[[str, int, int], None] | None = None) -> BoardsReport:
    """Write a PNG board per matching shop into ``out_dir`` and one multi-page PDF of them all.

    ``grid_code`` None: every current grid.  The font is checked before anything is written.
    """
    settings = settings or get_settings()
    font_path = board_font(settings)
    with transaction(engine) as session:
        shops = public_shops(session, _shops(session, grid_code=grid_code, changed_since=changed_since))
    report = BoardsReport()
    if not shops:
        return report
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    pdf = out_dir / f"boards-{grid_code or 'all'}-{stamp}.pdf"
    partial = pdf.with_suffix(".pdf.partial")
    for done, shop in enumerate(shops, start=1):
        image = draw_board(shop, font_path=font_path, settings=settings)
        png = out_dir / f"board-{shop.grid_code}-{shop.public_id}.png"
        image.save(png, dpi=(DPI, DPI))
        # One page at a time (append): a district's boards never sit in memory together.
        image.save(partial, "PDF", resolution=DPI, append=done > 1)
        report.pngs.append(png)
        if progress:
            progress("boards", done, len(shops))
    partial.replace(pdf)
    report.pdf = pdf
    return report
