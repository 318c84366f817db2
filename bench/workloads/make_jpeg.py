# Writes the thumbnail workload's input: a 1024x768 JPEG with some structure,
# as the JSON event {"jpeg": "<base64>"}. argv[1]: the output path.
import base64
import io
import json
import sys

from PIL import Image, ImageDraw

image = Image.new("RGB", (1024, 768), (30, 90, 160))
draw = ImageDraw.Draw(image)
for i in range(0, 1024, 32):
    draw.line([(i, 0), (1024 - i, 767)], fill=(i % 256, 200, 255 - i % 256), width=3)
    draw.ellipse([i, i % 768, i + 60, (i % 768) + 60], outline=(255, 255, 0))
buffer = io.BytesIO()
image.save(buffer, "JPEG", quality=90)
with open(sys.argv[1], "w") as out:
    json.dump({"jpeg": base64.b64encode(buffer.getvalue()).decode()}, out)
