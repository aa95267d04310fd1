// got and nanoid are ESM-only, and so are most of got's own dependencies. Jest's module
// loader is CommonJS, so those packages are transformed to CJS by swc like our TypeScript.
const esmPackages = [
  'got', '@sindresorhus/is', '@szmarczak/http-timer', 'byte-counter', 'cacheable-lookup',
  'cacheable-request', 'chunk-data', 'decompress-response', 'form-data-encoder', 'get-stream',
  '@sec-ant/readable-stream', 'is-stream', 'keyv', '@keyv/serialize', 'lowercase-keys',
  'mimic-response', 'normalize-url', 'p-cancelable', 'responselike', 'uint8array-extras',
  'nanoid', 'croner',
];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.map((p) => p.replace('/', '\\/')).join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  // Asset imports only esbuild resolves (scripts/build.ts): the console's stylesheets and browser script.
  moduleNameMapper: { '\\.css$': '<rootDir>/test/helpers/text-asset.cjs', '\\?browser$': '<rootDir>/test/helpers/text-asset.cjs' },
  testTimeout: 30000,
  globalSetup: '<rootDir>/test/globalSetup.ts',
};
