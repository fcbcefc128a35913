"""Generates the small real image fixtures under tests/fixtures (run once; needs Pillow).

Synthetic scenes (gradients, shapes, noise) so that no third-party photo is shipped; one JPEG
carries EXIF orientation 6 and a GPS block, as phones write them.
"""
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
out.mkdir(parents=True, exist_ok=True)
rnd = random.Random(7)


def scene(w, h, hue):
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 255 // w + hue) % 256, (y * 255 // h) % 256, (hue * 3 + x // 7 + y // 5) % 256)
    d = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        d.rectangle([x0, y0, x0 + rnd.randrange(w // 4 + 1), y0 + rnd.randrange(h // 4 + 1)],
                    fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    return img


scene(640, 427, 10).save(out / "living-room.jpg", quality=88)
scene(480, 640, 90).save(out / "kitchen-portrait.jpg", quality=88)
exif = Image.Exif()
exif[0x0112] = 6  # Orientation: rotate 90 CW to display
exif[0x8825] = {1: "S", 2: (23.0, 33.0, 0.0), 3: "W", 4: (46.0, 38.0, 0.0)}  # GPS
scene(600, 400, 170).save(out / "balcony-exif-orientation-6.jpg", quality=88, exif=exif)
rgba = scene(320, 240, 40).convert("RGBA")
ImageDraw.Draw(rgba).ellipse([40, 40, 200, 200], fill=(0, 0, 0, 0))
rgba.save(out / "floorplan-alpha.png")
# A print shop's CMYK JPEG (Adobe APP14, inverted as Photoshop writes it) and its RGB scene,
# lossless, as the reference of its renditions.
print_scene = scene(480, 320, 220)
print_scene.convert("CMYK").save(out / "print-cmyk.jpg", quality=92)
print_scene.save(out / "print-rgb.png")
