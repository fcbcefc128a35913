// The industry baseline for scripts/bench images: sharp (libvips) doing what the worker does —
// decode once, apply EXIF orientation, four long-edge renditions, JPEG q82 4:2:0 — over a folder
// of photos with N parallel workers. Prints one JSON line.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const [dir, workersArg, roundsArg] = process.argv.slice(2);
const workers = Number(workersArg ?? 1);
const rounds = Number(roundsArg ?? 1);
const sizes = [1920, 1280, 640, 320];
sharp.concurrency(1); // one libvips thread per operation: parallelism comes from the workers
sharp.cache(false);

const files = readdirSync(dir).filter((f) => f.endsWith('.jpg')).map((f) => readFileSync(join(dir, f)));
let megapixels = 0;
for (const f of files) {
  const m = await sharp(f).metadata();
  megapixels += (m.width * m.height) / 1e6;
}

async function render(buf) {
  const base = sharp(buf).rotate();
  await Promise.all(
    sizes.map((s) =>
      base.clone().resize(s, s, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 82, chromaSubsampling: '4:2:0' }).toBuffer(),
    ),
  );
}

async function run() {
  let next = 0;
  const total = files.length * rounds;
  const loop = async () => {
    while (next < total) {
      const i = next++;
      await render(files[i % files.length]);
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  return total;
}

await render(files[0]); // warm up
const start = process.hrtime.bigint();
const photos = await run();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({
  tool: 'sharp', workers, photos, seconds,
  photos_per_s: photos / seconds,
  ms_per_mp: (seconds * 1000) / (megapixels * rounds),
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
}));
