/** Reading zip archives in tests, independently of the writer (modules/shared/zip.ts). */
import { inflateRawSync } from "node:zlib";

export interface ReadEntry {
  readonly name: string;
  readonly data: Buffer;
  readonly time: number;
  readonly date: number;
  readonly mode: number;
  readonly madeBy: number;
  readonly method: number;
}

/** Entries of a zip, read from its central directory (stored or deflated). */
export function readZip(zip: Buffer): ReadEntry[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let p = zip.readUInt32LE(end + 16);
  const out: ReadEntry[] = [];
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(p + 10);
    const [time, date] = [zip.readUInt16LE(p + 12), zip.readUInt16LE(p + 14)];
    const [size, nameLength, extraLength, commentLength] = [
      zip.readUInt32LE(p + 20),
      zip.readUInt16LE(p + 28),
      zip.readUInt16LE(p + 30),
      zip.readUInt16LE(p + 32),
    ];
    const mode = zip.readUInt32LE(p + 38) >>> 16;
    const offset = zip.readUInt32LE(p + 42);
    const name = zip.toString("utf8", p + 46, p + 46 + nameLength);
    const dataStart = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    const raw = zip.subarray(dataStart, dataStart + size);
    out.push({
      name,
      data: method === 8 ? inflateRawSync(raw) : Buffer.from(raw),
      time,
      date,
      mode,
      madeBy: zip.readUInt8(p + 5),
      method,
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}
