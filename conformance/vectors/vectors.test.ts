import { fromBinary, toJson } from '@bufbuild/protobuf';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { EnvelopeSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { bodyNames } from '../../spec/protocol/arbitraries.js';
import { decode } from '../../spec/protocol/codec.js';
import { fromHex } from '../wire.js';
import { buildVectorFiles, renderVectorFile, type Vector } from './catalog.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const stored = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const all: Vector[] = stored.flatMap((f) => (JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as { vectors: Vector[] }).vectors);

describe('test vectors', () => {
  test('WIRE-1 the stored vector files are exactly what generate.ts writes', () => {
    const files = buildVectorFiles();
    expect(stored).toEqual(files.map((f) => f.file).sort());
    for (const f of files) expect(readFileSync(`${dir}/${f.file}`, 'utf8'), `${f.file} is stale: run npx tsx conformance/vectors/generate.ts`).toBe(renderVectorFile(f));
  });

  test('WIRE-2 WIRE-3 WIRE-4 WIRE-5 WIRE-7 every vector decodes to its stated verdict and close code', () => {
    expect(all.length).toBeGreaterThan(50);
    for (const v of all) {
      const r = decode(fromHex(v.hex), { ...(v.from ? { from: v.from } : {}), ...(v.maxPayloadBytes ? { maxPayloadBytes: v.maxPayloadBytes } : {}) });
      expect(r.ok, v.name).toBe(v.valid);
      if (r.ok) expect(toJson(EnvelopeSchema, r.envelope), v.name).toEqual(v.json);
      else expect(r.error.code, v.name).toBe(v.closeCode);
    }
  });

  test('WIRE-6 the JSON form is what Protobuf parses, unknown fields dropped; null exactly when it does not parse', () => {
    for (const v of all) {
      let parsed: unknown = null;
      try {
        parsed = toJson(EnvelopeSchema, fromBinary(EnvelopeSchema, fromHex(v.hex)));
      } catch {
        parsed = null;
      }
      expect(parsed, v.name).toEqual(v.json);
    }
  });

  test('WIRE-1 every body has a valid vector and every codec close code has an invalid one', () => {
    const validBodies = new Set(all.filter((v) => v.valid && v.json).flatMap((v) => Object.keys(v.json as object)));
    expect([...validBodies].sort()).toEqual([...bodyNames].sort());
    const codes = new Set(all.filter((v) => !v.valid).map((v) => v.closeCode));
    expect([...codes].sort()).toEqual([1002, 1007, 1009]);
    expect(new Set(all.map((v) => v.name)).size).toBe(all.length);
  });
});
