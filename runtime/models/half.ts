/**
 * IEEE 754 half precision (float16), which JavaScript has no array for: onnxruntime takes and gives it as
 * Uint16 bit patterns. To and from those patterns, for the v2 route's FP16 and the item checks' messages.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE 754 half-precision bit pattern nearest to `v` (ties to even), by way of float32. */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias from 127 to 15
  if (e >= 0x1f) return sign | 0x7c00;
  let shift = 13;
  let h: number;
  if (e <= 0) {
    // Subnormal in half precision: the implicit bit joins the mantissa, shifted further right.
    if (e < -10) return sign;
    mant |= 0x800000;
    shift = 14 - e;
    h = mant >>> shift;
  } else {
    h = (e << 10) | (mant >>> 13);
  }
  const rest = mant & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  // A carry out of the mantissa steps the exponent, up to infinity: what rounding should do.
  if (rest > halfway || (rest === halfway && h & 1)) h++;
  return sign | h;
}

/** Whether a half-precision bit pattern is NaN or ±Infinity (its exponent bits all set). */
export function isHalfNonFinite(h: number): boolean {
  return (h & 0x7c00) === 0x7c00;
}

/** The number a half-precision bit pattern stands for. */
export function fromHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
