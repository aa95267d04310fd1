// Asset imports that scripts/build.ts resolves for the opsConsole bundle: a stylesheet as its text,
// and a browser script (`…?browser`) bundled for the browser, as its text.
declare module '*.css' {
  const text: string;
  export default text;
}
declare module '*?browser' {
  const text: string;
  export default text;
}
