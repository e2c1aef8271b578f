// `websd-node.mjs serve DIST` (what `websd serve` runs) as a child process on a free port, for the
// tests that open the page the way a user does.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../web/cli/websd-node.mjs', import.meta.url));

/**
 * @param {string} dist the artifact models to serve
 * @returns {Promise<{ url: string, output: () => string, close: () => Promise<void> }>} url: the
 *   server's origin; output: what it printed so far
 */
export async function startServe(dist) {
  const child = spawn(process.execPath, [CLI, 'serve', path.resolve(dist), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      // The listing ends the announcement: one line per model, or none.
      const m = out.match(/^serving (http:\/\/127\.0\.0\.1:\d+)\/ \(the page; (\d+) model/m);
      if (m && out.split('\n').filter((l) => l.startsWith('  ')).length >= Number(m[2])) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  return {
    url,
    output: () => out,
    close: () => new Promise((resolve) => {
      child.on('exit', () => resolve());
      child.kill();
    }),
  };
}
