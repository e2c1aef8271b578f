// Compiled (never run) by `make lint` (tsconfig.json): the package's declarations (web/lib/index.d.mts)
// accept the documented use and reject the mistakes below.
import { detect, isCached, loadModel, purge, readPngSettings } from '../../../web/lib/index.mjs';
import type { GenerateResult, ProgressEvent, StableDiffusion, StepInfo } from '../../../web/lib/index.mjs';

export async function example(canvas: HTMLCanvasElement): Promise<GenerateResult> {
  const found = await detect();
  if (!found.webgpu) console.log(found.reason);
  const sd: StableDiffusion = await loadModel('https://example.com/models/sd15/', {
    device: 'auto',
    progressCallback: (e: ProgressEvent) => console.log(e.status, e.file, e.progress, e.loadedBytes / e.totalBytes),
  });
  const controller = new AbortController();
  const result = await sd.generate({
    prompt: 'a red circle',
    negativePrompt: 'blurry',
    width: 512,
    height: 512,
    steps: 20,
    cfgScale: 7.5,
    seed: 42,
    sampler: 'euler',
    signal: controller.signal,
    previewEvery: 1,
    onStep: ({ step, total, ms, preview }: StepInfo) => console.log(step, total, ms, preview?.width),
  });
  canvas.getContext('2d')?.putImageData(new ImageData(result.image.data, result.image.width, result.image.height), 0, 0);
  console.log(result.seed, result.parameters.cfgScale, result.stages[0]?.ms, sd.device, sd.notice);
  console.log(result.gpu?.bytesAllocated, (await readPngSettings(sd.png(result)))?.prompt);
  if (await isCached('https://example.com/models/sd15/')) console.log(await purge('https://example.com/models/sd15/'));
  sd.dispose();
  return result;
}

export async function mistakes(sd: StableDiffusion): Promise<void> {
  // @ts-expect-error: a device that does not exist
  await loadModel('m/', { device: 'gpu' });
  // @ts-expect-error: a misspelt option
  await loadModel('m/', { progress_callback: () => {} });
  // @ts-expect-error: the prompt is required
  await sd.generate({ steps: 20 });
  // @ts-expect-error: a misspelt option
  await sd.generate({ prompt: 'x', cfg_scale: 7 });
  // @ts-expect-error: not a sampler
  await sd.generate({ prompt: 'x', sampler: 'euler_b' });
}
