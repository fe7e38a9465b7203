import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the gateway at /app (gateway/src/web-app.ts), with /graphql on the same origin. `npm run dev -w
// @insta/web` proxies /graphql (HTTP and websockets) to a running `npm start`.
export default defineConfig({
  base: '/app/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } } },
});
