// Jest's stand-in for the asset imports scripts/build.ts resolves (`*.css` as text, `*?browser`
// bundled for the browser): tests that load a function's source get an empty text; the real
// assets are tested through the built bundle (test/browser).
module.exports = '';
