import { buildFunctions } from '../scripts/build';

/** The end-to-end tests run the real bundles, so they are built once before any test. */
export default async function globalSetup(): Promise<void> {
  await buildFunctions({ quiet: true });
}
