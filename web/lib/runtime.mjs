// Where this code runs: Node (files, a cache folder, Dawn) or a browser (fetch, the Cache API).
export const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';
