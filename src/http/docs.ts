import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Services } from '../services.js';
import { buildOpenApi } from './openapi.js';

/**
 * GET /openapi.json (the spec for this replica's limits) and Swagger UI at /docs/, whose assets
 * come from the installed swagger-ui-dist (no CDN). The UI loads the spec by a relative URL, so
 * it also works behind a path prefix.
 */
export function docsRouter(s: Services): Router {
  const r = Router();
  const spec = buildOpenApi(s.limits);
  r.get('/openapi.json', (_req, res) => {
    res.json(spec);
  });
  const options = { swaggerUrl: '../openapi.json', customSiteTitle: 'slotlock API' };
  // The page refers to its assets as ./x, which only resolve under /docs/.
  r.get(
    '/docs',
    (req, res, next) => {
      if (req.path.endsWith('/')) {
        next();
        return;
      }
      res.redirect(301, `${req.baseUrl}/docs/`);
    },
    swaggerUi.setup(undefined, options),
  );
  // serveFiles, unlike serve, keeps its swagger-ui-init.js per router instead of module-global.
  r.use('/docs', swaggerUi.serveFiles(undefined, options));
  return r;
}
