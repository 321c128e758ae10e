// Loaded before everything else (a classic script, not a module): the page's only Trusted
// Types policy. The Content-Security-Policy requires Trusted Types for every HTML sink
// (`require-trusted-types-for 'script'`), so a string given to innerHTML, outerHTML,
// insertAdjacentHTML or document.write goes through this policy and is refused unless it
// is one of Leaflet's own fixed bits of markup (its feature test, its zoom and close
// buttons). The screen itself builds every element with dom.js and text nodes: data never
// reaches an HTML sink, and if a future change lets it, the browser throws instead of
// inserting it.
(() => {
  if (!window.trustedTypes || !window.trustedTypes.createPolicy) return;
  const LEAFLET = new Set([
    '<svg/>',
    '<span aria-hidden="true">+</span>',
    '<span aria-hidden="true">&#x2212;</span>',
    '<span aria-hidden="true">&#215;</span>',
  ]);
  window.trustedTypes.createPolicy('default', {
    createHTML: (html) => (LEAFLET.has(html) ? html : null),
  });
})();
