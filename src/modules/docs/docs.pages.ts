/**
 * The two docs pages (Scalar at `/docs`, Swagger UI at `/docs/swagger`), the small scripts
 * that start them, and their Content-Security-Policy. The pages hold no inline script: their
 * configuration is a same-origin script, so `script-src 'self'` suffices. Scalar injects its
 * stylesheet at run time and tags it with the nonce it finds in `<meta property="csp-nonce">`,
 * which is the only inline style the policy lets through.
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
 * The Content-Security-Policy of a docs page: everything from this origin only; style elements
 * also from the page's nonce (Scalar's injected stylesheet), style attributes inline; images
 * also from `data:` (icons inlined in the CSS); no framing, no plugins.
 */
export function docsPageCsp(styleNonce?: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self'${styleNonce ? ` 'nonce-${styleNonce}'` : ""}`,
    // Both UIs set `style="..."` attributes; an attribute cannot hold selectors, so it cannot
    // restyle or probe the page the way an injected <style> element could.
    "style-src-attr 'unsafe-inline'",
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

/** A fresh nonce for one page response. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(
    /[+/=]/g,
    (ch) => ch === "+" ? "-" : ch === "/" ? "_" : "",
  );
}

/** The Scalar page; `nonce` goes into the meta tag Scalar reads for its injected stylesheet. */
export function scalarPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta property="csp-nonce" content="${nonce}">
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
}

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
