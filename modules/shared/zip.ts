/**
 * Deterministic zip archives: the same entries give the same bytes on any machine, so an artifact's
 * hash only changes when its content does (terraform-aws-modules' users' top complaint is zips
 * that redeploy unchanged code).
 *
 * Entries are sorted by name, every timestamp is 1980-01-01 00:00 (the zip epoch), every file is
 * mode 0644 made on "unix", and data is stored, not deflated: no zlib version can change the
 * bytes. The layout is byte for byte what Python's `zipfile` writes for the same ZipInfo settings
 * (glue-jobs/build_package.py builds the Glue package that way; a test compares the two).
 */

export interface ZipEntry {
  /** Path inside the archive, "/"-separated. */
  readonly name: string;
  readonly data: Buffer;
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const DOS_TIME_MIDNIGHT = 0;
const VERSION = 20; // 2.0: what stored entries need (and what Python writes)
const MADE_BY_UNIX = 3;
const FILE_MODE_0644 = (0o100644 << 16) >>> 0;
const UTF8_NAMES = 0x0800;

let crcTable: Uint32Array | undefined;

export function crc32(data: Buffer): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function deterministicZip(entries: readonly ZipEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = new Set<string>();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of sorted) {
    if (names.has(entry.name)) throw new Error(`zip entry "${entry.name}" is listed twice`);
    names.add(entry.name);
    const name = Buffer.from(entry.name, "utf8");
    const flags = /^[\x00-\x7f]*$/.test(entry.name) ? 0 : UTF8_NAMES;
    const crc = crc32(entry.data);
    const size = entry.data.length;
    if (size > 0xfffffffe || offset > 0xfffffffe) throw new Error("zip64 archives are not supported");

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt8(VERSION, 4); // version needed to extract
    local.writeUInt8(0, 5);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(DOS_TIME_MIDNIGHT, 10);
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, entry.data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt8(VERSION, 4); // version made by
    central.writeUInt8(MADE_BY_UNIX, 5);
    central.writeUInt8(VERSION, 6); // version needed
    central.writeUInt8(0, 7);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(DOS_TIME_MIDNIGHT, 12);
    central.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(size, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(FILE_MODE_0644, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + size;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(sorted.length, 8);
  end.writeUInt16LE(sorted.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, directory, end]);
}
