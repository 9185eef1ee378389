/**
 * The three CRC-16 variants the meters use. All are reflected CRC-16s, so one table-driven routine per
 * polynomial serves; they differ in initial value and final XOR. Check values ("123456789"):
 * MODBUS 0x4B37, ARC 0xBB3D, X-25 0x906E (Greg Cook's CRC catalogue).
 */
function makeTable(reflectedPoly: number): Uint16Array {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reflectedPoly : c >>> 1;
    t[n] = c;
  }
  return t;
}

// 0x8005 reflected is 0xA001 (MODBUS, ARC); 0x1021 reflected is 0x8408.
const T8005 = makeTable(0xa001);
const T1021 = makeTable(0x8408);

function run(table: Uint16Array, init: number, bytes: Uint8Array, start: number, end: number): number {
  let crc = init;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ table[(crc ^ bytes[i]) & 0xff];
  return crc & 0xffff;
}

/** CRC-16/MODBUS: init 0xFFFF; sent low byte first after the frame. */
export function crc16Modbus(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return run(T8005, 0xffff, bytes, start, end);
}

/** CRC-16/ARC (a.k.a. CRC-16/IBM, LHA): init 0; DSMR P1 prints it as 4 upper-case hex digits. */
export function crc16Arc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return run(T8005, 0, bytes, start, end);
}

/** CRC-16/X-25 (IBM-SDLC): init 0xFFFF, final XOR 0xFFFF; SML sends it low byte first. */
export function crc16X25(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return run(T1021, 0xffff, bytes, start, end) ^ 0xffff;
}
