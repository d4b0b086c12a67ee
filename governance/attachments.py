"""Photos attached to cases, stored on disk by content hash.

The file lands under ``<LINPU_VAR_DIR>/attachments/<sha256[:2]>/<sha256>``
before the row is committed; if the transaction then rolls back, the file
stays as an unreferenced blob, harmless because a later upload of the same
photo reuses it and nothing lists files without a row.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError
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


_GPS_IFD = 0x8825


def without_location(data: bytes) -> bytes:
    """The photo without its EXIF GPS tags (the public's photos may tell where the sender lives).

    Re-encoded only when a GPS tag is present; anything Pillow cannot read is returned as given
    for :func:`store_attachment` to refuse.
    """
    try:
        image = Image.open(io.BytesIO(data))
        exif = image.getexif()
    except (UnidentifiedImageError, OSError, ValueError):
        return data
    if _GPS_IFD not in exif:
        return data
    del exif[_GPS_IFD]
    out = io.BytesIO()
    options = {"quality": 92} if image.format == "JPEG" else {}
    image.save(out, format=image.format, exif=exif.tobytes(), **options)
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
