"""Photos attached to cases, stored on disk by content hash, with no location in them.

A photo from a phone carries EXIF (the GPS position of whoever took it, the
phone's make, the time) and sometimes XMP or comments.  Every photo is read
with Pillow before it is stored: one Pillow cannot read is refused, and one
with such metadata is written again without it (turned upright first, since
the EXIF orientation goes with it), so a stored photo never tells where its
taker stood.  A photo without any is stored byte for byte.

The file lands under ``<LINPU_VAR_DIR>/attachments/<sha256[:2]>/<sha256>``
before the row is committed; if the transaction then rolls back, the file
stays as an unreferenced blob, harmless because a later upload of the same
photo reuses it and nothing lists files without a row.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from governance.errors import AttachmentError, NotFoundError
from governance.models import Attachment, Case
from governance.permissions import Viewer, require_write
from governance.settings import get_settings

#: Recognised by their first bytes, never by the name or the declared type.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff_image_type(data: bytes) -> str | None:
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


#: Pillow's ``info`` keys that describe the picture, not the person: kept when a photo is written again.
_TECHNICAL_INFO = frozenset({"dpi", "icc_profile", "jfif", "jfif_version", "jfif_unit", "jfif_density", "gamma",
                             "srgb", "chromaticity", "transparency", "aspect", "loop", "background", "duration",
                             "timestamp", "progressive", "progression", "adobe", "adobe_transform"})
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def _has_private_metadata(image: Image.Image) -> bool:
    return bool(set(image.info) - _TECHNICAL_INFO) or bool(image.getexif()) or bool(getattr(image, "text", None))


def strip_metadata(data: bytes, content_type: str, *, filename: str = "") -> bytes:
    """The photo without EXIF (GPS), XMP, comments or text chunks; unchanged if it has none.

    AttachmentError if Pillow cannot read it as the image its first bytes claim.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[content_type]])
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise AttachmentError(f"{filename}: not a readable photo ({exc})", name=filename) from None
    if not _has_private_metadata(image):
        return data
    fmt = image.format
    ImageOps.exif_transpose(image, in_place=True)
    image.info = {k: v for k, v in image.info.items() if k in _TECHNICAL_INFO}
    out = io.BytesIO()
    options = {"quality": "keep"} if fmt == "JPEG" and getattr(image, "quantization", None) else {}
    if fmt == "WEBP":
        options = {"lossless": image.info.get("lossless", False), "quality": 90}
    image.save(out, fmt, **options)
    return out.getvalue()


def attachment_root() -> Path:
    return get_settings().var_dir / "attachments"


def attachment_path(attachment: Attachment) -> Path:
    return attachment_root() / attachment.sha256[:2] / attachment.sha256


def store_attachment(
    session: Session,
    viewer: Viewer,
    case_id: int,
    *,
    filename: str,
    content_type: str,
    data: bytes,
    history_id: int | None = None,
) -> Attachment:
    """Check and store one photo of a case; AttachmentError if too large or not JPEG/PNG/WebP."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"no case with id {case_id}")
    require_write(viewer, case.grid_id)
    limit_mb = get_settings().max_attachment_mb
    if len(data) > limit_mb * 1024 * 1024:
        raise AttachmentError(
            f"{filename}: {len(data) / 1024 / 1024:.1f} MB is too large; at most {limit_mb:g} MB "
            "(LINPU_MAX_ATTACHMENT_MB) is allowed",
            name=filename,
        )
    if not data:
        raise AttachmentError(f"{filename}: the file is empty", name=filename)
    detected = sniff_image_type(data)
    if detected is None:
        raise AttachmentError(
            f"{filename} (declared {content_type or 'no type'}): not a photo; JPEG, PNG and WebP images are allowed",
            name=filename,
        )
    data = strip_metadata(data, detected, filename=filename)
    digest = hashlib.sha256(data).hexdigest()
    path = attachment_root() / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{digest}.{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a reader never sees half a photo
    row = Attachment(
        case_id=case.id, history_id=history_id, sha256=digest, content_type=detected, size=len(data),
        original_name=(filename or "")[:255], uploaded_by_id=viewer.user_id,
    )
    session.add(row)
    session.flush()
    return row
