// This browser's pictures, kept in IndexedDB so a reload or a later visit still has them: each
// generation's PNG (which carries its settings, as downloaded) with those settings, newest first.

const DB = 'websd-history';
const STORE = 'pictures';

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

// One transaction on the store; `work` returns the request whose result is wanted.
async function withStore(mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('the history transaction was aborted'));
    });
  } finally {
    db.close();
  }
}

/**
 * @param {{ png: ArrayBuffer, parameters: object }} picture
 * @returns {Promise<number>} its id
 */
export function addPicture({ png, parameters }) {
  const record = { created: Date.now(), png: new Blob([png], { type: 'image/png' }), parameters };
  return withStore('readwrite', (store) => store.add(record));
}

/** @returns {Promise<{ id: number, created: number, png: Blob, parameters: any }[]>} newest first */
export async function listPictures() {
  const all = await withStore('readonly', (store) => store.getAll());
  return all.reverse();
}

export function deletePicture(id) {
  return withStore('readwrite', (store) => store.delete(id));
}

export function clearPictures() {
  return withStore('readwrite', (store) => store.clear());
}
