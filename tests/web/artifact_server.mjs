// An HTTP server on 127.0.0.1 (loopback only) for artifact-model tests: serves one folder with CORS
// (pages load models from another origin), records the paths asked for, and serves what a fault
// function makes of a file (faults: file name → (bytes) => bytes) to play a broken server; the next
// request for a file named in `drops` has its connection cut before any answer, and every request
// for one named in `cuts`.
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @param {string} dir
 * @returns {Promise<{ url: string, faults: Map<string, (b: Buffer) => Buffer>, drops: Set<string>,
 *   cuts: Set<string>, requests: string[], close: () => Promise<void> }>}
 */
export async function serveArtifacts(dir) {
  const faults = new Map();
  const drops = new Set();
  const cuts = new Set();
  const requests = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1);
    requests.push(rel);
    const file = path.resolve(dir, rel);
    const headers = { 'access-control-allow-origin': '*', 'cache-control': 'no-store' };
    if (!file.startsWith(dir + path.sep) || !existsSync(file)) {
      res.writeHead(404, headers).end();
      return;
    }
    if (drops.delete(path.basename(file)) || cuts.has(path.basename(file))) {
      req.socket.destroy();
      return;
    }
    const body = readFileSync(file);
    const fault = faults.get(path.basename(file));
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' }).end(fault ? fault(body) : body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return { url: `http://127.0.0.1:${server.address().port}`, faults, drops, cuts, requests, close };
}
