// A small static file server for `websd serve` and the browser tests: each URL prefix maps to a
// folder, nothing outside those folders is reachable (no `..`, no symlinked escape), directories
// answer with their index.html, and the types a browser insists on (.wasm, .mjs) are right. It
// listens on 127.0.0.1 unless told otherwise: the page is for this machine.
//
// Every answer carries CONTENT_SECURITY_POLICY (workers take theirs from their own script's answer):
// scripts only from this origin and never eval — 'wasm-unsafe-eval' is what compiling WebAssembly
// needs, and the wasm build is linked without Emscripten's eval (src/wasm/CMakeLists.txt); styles
// from files; models fetched from any http(s) origin the user names (connect-src), pictures from
// blob: URLs (the history, the PNG link); no plugins, frames, <base> or form posts.
import http from 'node:http';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const TYPES = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.wgsl': 'text/plain', '.png': 'image/png',
  '.css': 'text/css', '.bin': 'application/octet-stream', '.txt': 'text/plain; charset=utf-8' };

export const CONTENT_SECURITY_POLICY = ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'",
  "img-src 'self' blob: data:", "connect-src 'self' blob: http: https:", "worker-src 'self'", "object-src 'none'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"].join('; ');

/**
 * @param {Record<string, string>} mounts URL prefix ('/web/') → folder
 * @param {{ host?: string, port?: number, routes?: Record<string, () => Promise<{ type: string, body: string | Buffer }>> }} options
 *   routes: exact paths answered by a function (e.g. '/models.json')
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function serveStatic(mounts, { host = '127.0.0.1', port = 0, routes = {} } = {}) {
  const roots = await Promise.all(Object.entries(mounts).map(async ([prefix, dir]) => [prefix, await realpath(dir)]));
  const server = http.createServer(async (req, res) => {
    const answer = (status, type, body) => res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store',
      'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff' }).end(body);
    try {
      const { pathname } = new URL(req.url ?? '/', 'http://x');
      if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'text/plain', 'GET only\n');
      if (routes[pathname]) {
        const { type, body } = await routes[pathname]();
        return answer(200, type, body);
      }
      const mount = roots.find(([prefix]) => pathname.startsWith(prefix));
      if (!mount) return answer(404, 'text/plain', 'not found\n');
      let file = path.resolve(mount[1], '.' + decodeURIComponent(pathname.slice(mount[0].length - 1)));
      if ((await stat(file)).isDirectory()) file = path.join(file, 'index.html');
      file = await realpath(file);
      if (!file.startsWith(mount[1] + path.sep)) return answer(404, 'text/plain', 'not found\n');
      return answer(200, TYPES[path.extname(file)] ?? 'application/octet-stream', await readFile(file));
    } catch {
      return answer(404, 'text/plain', 'not found\n');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const { port: bound } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, close: () => new Promise((r) => server.close(() => r())) };
}
