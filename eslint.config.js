// ESLint flat config, run by `make lint` (docs/build_notes.md).
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: ['build*/', 'node_modules/', '.gl/'],
  },
  js.configs.recommended,
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
    },
    rules: {
      'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'none' }],
      eqeqeq: ['error', 'smart'],
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
  // The library, the GPU host and the page run in browsers and in Node.
  {
    files: ['web/lib/**', 'web/host/**', 'web/page/**'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
  },
  // The page's worker.
  {
    files: ['web/page/worker.mjs'],
    languageOptions: { globals: { ...globals.worker } },
  },
  // The Node CLI, the tests, and the config itself run in Node; the tests also hand functions to
  // the browser (Playwright's page.evaluate), whose bodies see the browser's globals.
  {
    files: ['web/cli/**', 'scripts/**', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['tests/**'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  // src/wasm/*.js are Emscripten --pre-js fragments, pasted into the generated module's script
  // scope: `Module` is defined there, and their top-level vars are read by the code that follows.
  {
    files: ['src/wasm/*.js'],
    languageOptions: { sourceType: 'script', globals: { Module: 'readonly' } },
    rules: { 'no-unused-vars': ['error', { vars: 'local', args: 'after-used', caughtErrors: 'none' }] },
  },
];
