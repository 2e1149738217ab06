import { defineConfig } from 'vite';

// The console is served under /console/ (by `samlgate dev` locally). Everything it needs is in
// the bundle: no CDN, no web fonts, no inline scripts (the page's CSP forbids them).
export default defineConfig({
  base: '/console/',
  resolve: {
    // The ESDK's ECDSA signature encoding (asn1.js → safer-buffer) requires Node's `buffer`:
    // the `buffer` package is its browser implementation.
    alias: { buffer: 'buffer/' },
  },
  // Vite reports that it leaves out Node's `crypto` for @aws-crypto/material-management: that
  // module only probes for Node's KeyObject inside a try, and uses WebCrypto in the browser.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
  },
});
