/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the state digest of
 * SD-3. Chosen because every language has it (iSCSI, ext4, gRPC use it) and it
 * runs synchronously in a browser; it detects divergence, it is not a MAC.
 * Check value: crc32c("123456789") = 0xE3069283.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = (TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * A digest as sent on the wire: 0 means "no digest" (SD-3), so a real CRC of 0
 * is sent as 1. The chance of that collision is 2⁻³², the same as any other.
 */
export function stateDigest(bytes: Uint8Array): number {
  const d = crc32c(bytes);
  return d === 0 ? 1 : d;
}
