# A real FaaS task: make a thumbnail of the JPEG in the event (base64), with
# Pillow (Debian's python3-pil), and return its size and a digest.
import base64
import hashlib
import io

from PIL import Image


def handler(event, context):
    image = Image.open(io.BytesIO(base64.b64decode(event["jpeg"])))
    image.thumbnail((128, 128))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    data = out.getvalue()
    return {"width": image.width, "height": image.height, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()[:16]}
