// The industry baseline for scripts/bench images: sharp (libvips) doing what the worker does —
// apply EXIF orientation, four long-edge renditions (never enlarged), JPEG q82 4:2:0 — over a
// folder of photos with N parallel workers. Prints one JSON line.
//   node sharp.mjs DIR WORKERS ROUNDS [cascade|pipelines] [OUT_DIR]
// With OUT_DIR, each photo's renditions are also written there as {index}-{edge}.jpg (photos in
// name order), after the timed run, for the quality columns.
// cascade (tool "sharp", the default and the baseline): sharp at its strongest for several
//   sizes, as its docs and issues advise: one pipeline decodes (shrink-on-load), rotates and
//   resizes to the largest box into a raw buffer, and each rendition (the largest included) is
//   resized and encoded from that raw buffer, so the photo is decoded once.
// pipelines (tool "sharp-4x"): four independent pipelines cloned from one input, one per size,
//   each decoding the photo again (what this file did before).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const [dir, workersArg, roundsArg, modeArg, outDir] = process.argv.slice(2);
const mode = modeArg ?? 'cascade';
if (!['cascade', 'pipelines'].includes(mode)) throw new Error(`unknown mode ${mode}`);
const workers = Number(workersArg ?? 1);
const rounds = Number(roundsArg ?? 1);
const sizes = [1920, 1280, 640, 320];
sharp.concurrency(1); // one libvips thread per operation: parallelism comes from the workers
sharp.cache(false);

const files = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => readFileSync(join(dir, f)));
let megapixels = 0;
for (const f of files) {
  const m = await sharp(f).metadata();
  megapixels += (m.width * m.height) / 1e6;
}

const fit = (s) => [s, s, { fit: 'inside', withoutEnlargement: true }];
const jpeg = { quality: 82, chromaSubsampling: '4:2:0' };

async function pipelines(buf) {
  const base = sharp(buf).rotate();
  await Promise.all(sizes.map((s) => base.clone().resize(...fit(s)).jpeg(jpeg).toBuffer()));
}

async function cascade(buf) {
  const { data, info } = await sharp(buf).rotate().resize(...fit(sizes[0]))
    .raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  return Promise.all(sizes.map((s) => sharp(data, raw).resize(...fit(s)).jpeg(jpeg).toBuffer()));
}

const render = mode === 'cascade' ? cascade : pipelines;

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
if (outDir) {
  for (const [i, f] of files.entries()) {
    const outputs = await cascade(f);
    outputs.forEach((bytes, k) => writeFileSync(join(outDir, `${i}-${sizes[k]}.jpg`), bytes));
  }
}
console.log(JSON.stringify({
  tool: mode === 'cascade' ? 'sharp' : 'sharp-4x', workers, photos, seconds,
  photos_per_s: photos / seconds,
  ms_per_mp: (seconds * 1000) / (megapixels * rounds),
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
}));
