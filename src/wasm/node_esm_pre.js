// Emscripten 3.1.6's Node support calls require() and reads __dirname, which an ES module does
// not have. web/lib/websd.mjs hands in its own (createRequire, the module's folder).
var require = Module['nodeRequire'];
var __dirname = Module['nodeDirname'];
