// Reads a .safetensors file for the tests: an 8-byte little-endian header length, a JSON header
// ({name: {dtype, shape, data_offsets}}), then the data section.
import { readFileSync } from 'node:fs';

const ARRAYS = { F32: Float32Array, F64: Float64Array, I64: BigInt64Array, I32: Int32Array };

export function readSafetensors(path) {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const dataStart = 8 + headerLength;
  const tensors = {};
  for (const [name, { dtype, shape, data_offsets: [begin, end] }] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const TypedArray = ARRAYS[dtype];
    if (!TypedArray) throw new Error(`${path}: tensor '${name}' has dtype ${dtype}, which this reader does not know`);
    // Copied out: the data section need not be aligned for the typed array.
    const data = new TypedArray(bytes.buffer.slice(bytes.byteOffset + dataStart + begin, bytes.byteOffset + dataStart + end));
    tensors[name] = { shape, data };
  }
  return tensors;
}

// Max and mean absolute difference between two equally long arrays.
export function diff(got, want) {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < got.length; ++i) {
    const d = Math.abs(got[i] - want[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / got.length };
}
