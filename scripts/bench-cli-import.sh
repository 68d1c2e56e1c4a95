#!/usr/bin/env bash
# `npm run bench:cli-import`: furrow import of a folder of 10,000 images (64x64 PNG, two label folders) into a fresh
# server on PGlite, then the same import again (it must store nothing twice). Prints JSON; needs curl and node.
set -euo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d)
D=$T/imgs; rm -rf "$D"; mkdir -p "$D"
node --import tsx -e '
import sharp from "sharp";
const D = process.argv[1];
const labels = ["dark", "light"];
await Promise.all(labels.map((l) => import("node:fs/promises").then((fs) => fs.mkdir(`${D}/${l}`, { recursive: true }))));
for (let i = 0; i < 10000; i++) {
  const l = labels[i % 2];
  const base = l === "dark" ? 40 : 200;
  const px = Buffer.alloc(64 * 64 * 3);
  for (let j = 0; j < px.length; j++) px[j] = (base + ((i * 31 + j * 7) % 50)) & 255;
  await sharp(px, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(`${D}/${l}/img${i}.png`);
}
' "$D"
rm -rf $T/data
FURROW_DATA_DIR=$T/data FURROW_DEMO=0 FURROW_ADMIN_KEY=fw_bench_admin_key_0123456789 PORT=8787 FURROW_LOG_LEVEL=warn node --import tsx server/main.ts > $T/server.log 2>&1 &
SRV=$!
trap 'kill $SRV; rm -rf "$T"' EXIT
for _ in $(seq 1 60); do curl -sf localhost:8787/healthz >/dev/null && break; sleep 1; done
export FURROW_URL=http://127.0.0.1:8787 FURROW_KEY=fw_bench_admin_key_0123456789
P=$(node scripts/cli/furrow.mjs projects create bench --modality image --labels dark,light --settings '{"imageWidth":32,"imageHeight":32,"channels":3,"retrainEvery":0}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')
start=$(date +%s.%N)
node scripts/cli/furrow.mjs import "$D" --project "$P" --labels-from-folders > $T/out1.json 2> $T/bar1.txt
end=$(date +%s.%N)
again_start=$(date +%s.%N)
node scripts/cli/furrow.mjs import "$D" --project "$P" --labels-from-folders > $T/out2.json 2>/dev/null
again_end=$(date +%s.%N)
node -e "const a=require('$T/out1.json'), b=require('$T/out2.json'); const t=$end-$start, t2=$again_end-$again_start; console.log(JSON.stringify({images:a.items, accepted:a.accepted, seconds:+t.toFixed(1), imagesPerSecond:+(a.items/t).toFixed(1), rerun:{accepted:b.accepted, duplicates:b.duplicates, seconds:+t2.toFixed(1)}}))"
tail -c 300 $T/bar1.txt
