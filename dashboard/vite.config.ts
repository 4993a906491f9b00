/**
 * Builds the dashboard into <repo>/dist/dashboard with relative asset URLs
 * (`base: './'`), so the same files work wherever the server mounts them
 * (`/`, `/admin/baton/`, …). No inline scripts or styles: the server sends a
 * strict CSP. `npm run dev` proxies /api to a local `baton serve` on :8400.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    // The entry is a module script; browsers that run it already support modulepreload.
    modulePreload: { polyfill: false },
    // Keep every asset a file of its own (CSP: no data: fonts or scripts).
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8400' },
  },
});
