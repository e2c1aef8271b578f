// A picture as the engine returns it ({ shape: [h, w, 3], data } in [0, 1]) → RGBA bytes, rounded as
// the PNG writer rounds (src/io/image.cpp: the float32 product, clamped, half to even), for canvases
// (new ImageData(data, width, height)) and the package's results.
export function toRgba({ shape: [height, width], data }) {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) rgba[4 * p + c] = Math.fround(data[3 * p + c] * 255);
    rgba[4 * p + 3] = 255;
  }
  return { width, height, channels: 4, data: rgba };
}
