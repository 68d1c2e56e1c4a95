/**
 * The web UI: the annotator's review and transcription pages and the engineer's/client's dashboard, served as
 * plain static files (no build step) from server/public, with uPlot served from node_modules so that nothing
 * loads from a CDN. Every answer carries a strict Content-Security-Policy: scripts, styles and connections from
 * this origin only, no inline script; images also from `data:` URLs because queue items carry their pixels
 * inline; audio from `blob:` URLs because the transcription page fetches clips with the key and plays them from
 * memory.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Response } from 'express';

const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'public');

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(res: Response) {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

/** Resolves uPlot's distribution folder through Node's resolver, so a hoisted or nested install both work. */
function uplotDist(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
}

/**
 * Routes: `/` → `/ui`, `/ui` (index), `/ui/review`, `/ui/transcribe` (audio projects), `/ui/dashboard`, `/ui/data`, `/ui/assets/*` (server/public),
 * `/ui/vendor/uplot.iife.min.js` and `/ui/vendor/uPlot.min.css`. Mount before the 404 handler.
 */
export function createUiRouter(): express.Router {
  const router = express.Router();
  const vendor = uplotDist();

  router.use((req, res, next) => {
    if (req.path === '/' || req.path === '/ui' || req.path.startsWith('/ui/')) securityHeaders(res);
    next();
  });

  router.get('/', (_req, res) => res.redirect(302, '/ui'));

  const page = (file: string) => (_req: express.Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').sendFile(join(PUBLIC_DIR, file));
  };
  router.get(['/ui', '/ui/'], page('index.html'));
  router.get(['/ui/review', '/ui/review/'], page('review.html'));
  router.get(['/ui/transcribe', '/ui/transcribe/'], page('transcribe.html'));
  router.get(['/ui/dashboard', '/ui/dashboard/'], page('dashboard.html'));
  router.get(['/ui/data', '/ui/data/'], page('data.html'));
  router.get(['/ui/team', '/ui/team/'], page('team.html'));

  // Revalidated on every load (ETag), so a deploy is picked up at once and an unchanged file costs a 304.
  router.use('/ui/assets', express.static(PUBLIC_DIR, { index: false, fallthrough: true, maxAge: 0, etag: true }));

  const vendorFile = (file: string, type: string) => (_req: express.Request, res: Response) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type(type).sendFile(join(vendor, file));
  };
  router.get('/ui/vendor/uplot.iife.min.js', vendorFile('uPlot.iife.min.js', 'text/javascript'));
  router.get('/ui/vendor/uPlot.min.css', vendorFile('uPlot.min.css', 'text/css'));
  return router;
}
