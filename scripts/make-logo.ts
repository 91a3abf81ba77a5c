/**
 * Draws static/logo.png: three stacked "item" cards on a rounded square, and static/favicon.ico
 * holding the same image. Run it with
 * `deno run --allow-write scripts/make-logo.ts`; the result is committed.
 *
 * @module
 */
import { deflateSync } from "node:zlib";

const SIZE = 128;
const BACKGROUND = [0x1e, 0x40, 0xaf];
const CARD = [0xff, 0xff, 0xff];
const ACCENT = [0x38, 0xbd, 0xf8];

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function insideRoundedRect(
  x: number,
  y: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  r: number,
) {
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return x >= x0 && x <= x1 && y >= y0 && y <= y1 && (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function pixel(x: number, y: number): [number, number, number, number] {
  if (!insideRoundedRect(x, y, 0, 0, SIZE - 1, SIZE - 1, 24)) return [0, 0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const top = 26 + i * 28;
    if (insideRoundedRect(x, y, 24, top, 104, top + 20, 6)) {
      const dot = (x - 36) ** 2 + (y - (top + 10)) ** 2 <= 25;
      return [...(dot ? ACCENT : CARD), 255] as [number, number, number, number];
    }
  }
  return [...BACKGROUND, 255] as [number, number, number, number];
}

const raw = new Uint8Array(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) {
  raw[y * (SIZE * 4 + 1)] = 0; // filter: none
  for (let x = 0; x < SIZE; x++) raw.set(pixel(x, y), y * (SIZE * 4 + 1) + 1 + x * 4);
}
const header = new Uint8Array(13);
const hv = new DataView(header.buffer);
hv.setUint32(0, SIZE);
hv.setUint32(4, SIZE);
header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
const png = new Uint8Array([
  ...[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  ...chunk("IHDR", header),
  ...chunk("IDAT", new Uint8Array(deflateSync(raw, { level: 9 }))),
  ...chunk("IEND", new Uint8Array()),
]);
await Deno.writeFile(new URL("../static/logo.png", import.meta.url), png);
console.log(`Wrote static/logo.png (${png.length} bytes)`);

/** An ICO holding `image` (a PNG, as ICO allows since Windows Vista): what `/favicon.ico` serves. */
function icoOf(image: Uint8Array, size: number): Uint8Array {
  const ico = new Uint8Array(6 + 16 + image.length);
  const view = new DataView(ico.buffer);
  view.setUint16(2, 1, true); // type: icon
  view.setUint16(4, 1, true); // one image
  ico[6] = size % 256; // width (0 means 256)
  ico[7] = size % 256; // height
  view.setUint16(10, 1, true); // colour planes
  view.setUint16(12, 32, true); // bits per pixel
  view.setUint32(14, image.length, true);
  view.setUint32(18, 6 + 16, true); // offset of the image
  ico.set(image, 6 + 16);
  return ico;
}
const ico = icoOf(png, SIZE);
await Deno.writeFile(new URL("../static/favicon.ico", import.meta.url), ico);
console.log(`Wrote static/favicon.ico (${ico.length} bytes)`);
