/**
 * The two docs pages (Scalar at `/docs`, Swagger UI at `/docs/swagger`), the small scripts
 * that start them, and their Content-Security-Policy. The pages hold no inline script: their
 * configuration is a same-origin script, so `script-src 'self'` suffices.
 *
 * @module
 */

/** Where the docs pages load the OpenAPI document from. */
export const OPENAPI_PATH = "/openapi.json";

/** Page title prefix. */
const TITLE = "items-api";

/**
 * Scalar's configuration: everything that would call a third-party host is off (fonts, the
 * request proxy, the "Ask AI" agent, MCP, telemetry, the client app download).
 */
export const SCALAR_CONFIGURATION = {
  url: OPENAPI_PATH,
  withDefaultFonts: false,
  hideClientButton: true,
  telemetry: false,
  showDeveloperTools: "never",
  agent: { disabled: true, hideAddApi: true },
  mcp: { disabled: true },
  documentDownloadType: "json",
  persistAuth: false,
  defaultOpenFirstTag: true,
  operationTitleSource: "summary",
} as const;

/**
 * Swagger UI's configuration: the online validator badge (validator.swagger.io) is off and the
 * base layout has no top bar that could load another document.
 */
export const SWAGGER_CONFIGURATION = {
  url: OPENAPI_PATH,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  layout: "BaseLayout",
  persistAuthorization: false,
  displayRequestDuration: true,
  queryConfigEnabled: false,
} as const;

/** The script that starts Scalar, served at `/docs/assets/scalar/init.js`. */
export const SCALAR_INIT_SCRIPT = `"use strict";
Scalar.createApiReference("#app", ${JSON.stringify(SCALAR_CONFIGURATION, null, 2)});
`;

/** The script that starts Swagger UI, served at `/docs/assets/swagger-ui/init.js`. */
export const SWAGGER_INIT_SCRIPT = `"use strict";
window.ui = SwaggerUIBundle(Object.assign(${JSON.stringify(SWAGGER_CONFIGURATION, null, 2)}, {
  presets: [SwaggerUIBundle.presets.apis],
}));
`;

/**
 * The Content-Security-Policy of a docs page: scripts, styles, fonts, images and requests from
 * this origin only (images also from `data:`, for icons inlined in the CSS); no framing, no
 * plugins, no `<base>`. Scalar also needs inline styles: besides its own stylesheet (which it
 * could tag with a nonce) it renders a theme `<style>` and a toast library's stylesheet that
 * carry none, so its page allows `'unsafe-inline'` styles. Scripts stay `'self'` only on both
 * pages, which is what keeps injected markup from running anything.
 */
export function docsPageCsp(ui: "scalar" | "swagger"): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    ui === "scalar" ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The Scalar page. */
export const SCALAR_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${TITLE} — API reference</title>
    <link rel="icon" href="/logo.png">
  </head>
  <body>
    <div id="app"></div>
    <script src="/docs/assets/scalar/standalone.js"></script>
    <script src="/docs/assets/scalar/init.js"></script>
  </body>
</html>
`;

/** The Swagger UI page. */
export const SWAGGER_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${TITLE} — Swagger UI</title>
    <link rel="icon" href="/logo.png">
    <link rel="stylesheet" href="/docs/assets/swagger-ui/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/assets/swagger-ui/swagger-ui-bundle.js"></script>
    <script src="/docs/assets/swagger-ui/init.js"></script>
  </body>
</html>
`;
